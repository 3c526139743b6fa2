"""The audit log as admins read it: every admin decision with actor, object, before and after."""
