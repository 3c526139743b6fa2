-- Customer-service staff: a role of its own, so that support finds and acts on any order without being an admin.
ALTER TABLE users DROP CONSTRAINT users_roles_check;
ALTER TABLE users ADD CONSTRAINT users_roles_check CHECK (roles <@ ARRAY['buyer', 'vendor', 'marketer', 'support', 'admin']);
