"""All SQL of the vendors domain."""

APPLICATION_COLUMNS = """id, user_id, shop_name, description, contact_email, contact_phone, licence_number,
status, reason, reviewed_by, reviewed_at, created_at"""

VENDOR_COLUMNS = """id, user_id, shop_name, description, contact_email, contact_phone, licence_number,
payout_account, status, status_reason, created_at"""

SHOP_NAME_TAKEN = "SELECT EXISTS (SELECT 1 FROM vendors WHERE lower(shop_name) = lower($1))"
VENDOR_OF_USER = "SELECT id FROM vendors WHERE user_id = $1"

INSERT_APPLICATION = f"""
INSERT INTO vendor_applications
    (user_id, shop_name, description, contact_email, contact_phone, licence_number)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {APPLICATION_COLUMNS}
"""

APPLICATIONS_OF_USER = f"""
SELECT {APPLICATION_COLUMNS} FROM vendor_applications WHERE user_id = $1 ORDER BY id DESC
"""

LIST_APPLICATIONS = f"""
SELECT {APPLICATION_COLUMNS} FROM vendor_applications
WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC
LIMIT $3
"""

APPLICATION_FOR_UPDATE = f"SELECT {APPLICATION_COLUMNS} FROM vendor_applications WHERE id = $1 FOR UPDATE"

DECIDE_APPLICATION = f"""
UPDATE vendor_applications SET status = $2, reason = $3, reviewed_by = $4, reviewed_at = now()
WHERE id = $1
RETURNING {APPLICATION_COLUMNS}
"""

INSERT_VENDOR = f"""
INSERT INTO vendors (user_id, application_id, shop_name, description, contact_email, contact_phone,
                     licence_number)
SELECT user_id, id, shop_name, description, contact_email, contact_phone, licence_number
FROM vendor_applications WHERE id = $1
RETURNING {VENDOR_COLUMNS}
"""

LIST_VENDORS = f"""
SELECT {VENDOR_COLUMNS} FROM vendors
WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC
LIMIT $3
"""

GET_VENDOR = f"SELECT {VENDOR_COLUMNS} FROM vendors WHERE id = $1"
VENDOR_FOR_UPDATE = f"SELECT {VENDOR_COLUMNS} FROM vendors WHERE id = $1 FOR UPDATE"
SET_VENDOR_STATUS = f"""
UPDATE vendors SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1
RETURNING {VENDOR_COLUMNS}
"""

UPDATE_SHOP = f"""
UPDATE vendors SET description = COALESCE($2, description), contact_email = COALESCE($3, contact_email),
    contact_phone = COALESCE($4, contact_phone), payout_account = COALESCE($5, payout_account), updated_at = now()
WHERE id = $1
RETURNING {VENDOR_COLUMNS}
"""

PUBLIC_VENDOR = "SELECT id, shop_name, description, created_at FROM vendors WHERE id = $1 AND status = 'active'"
