-- Flash sales: a number of units of one SKU at a sale price, between two instants, at most so many per buyer.
-- `sold` counts the units held by orders that are not cancelled (unpaid ones included, until they expire);
-- a conditional update keeps it within `units`, and `flash_sale_buyers` keeps each buyer within the limit.
-- The Redis gate in front of them is rebuilt from these two tables.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE flash_sales (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku_id          bigint NOT NULL REFERENCES skus,
    product_id      bigint NOT NULL REFERENCES products,
    vendor_id       bigint NOT NULL REFERENCES vendors,
    sale_price      bigint NOT NULL CHECK (sale_price > 0),
    units           integer NOT NULL CHECK (units > 0),
    sold            integer NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= units),
    per_buyer_limit integer NOT NULL CHECK (per_buyer_limit > 0),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL CHECK (ends_at > starts_at),
    cancelled_at    timestamptz,
    created_by      bigint NOT NULL REFERENCES users,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- One sale at a time per SKU: two overlapping sales would sell the same shelf twice over.
    CONSTRAINT flash_sales_no_overlap EXCLUDE USING gist (sku_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
        WHERE (cancelled_at IS NULL)
);
CREATE INDEX flash_sales_ends ON flash_sales (ends_at);
CREATE INDEX flash_sales_vendor ON flash_sales (vendor_id, id);

CREATE TABLE flash_sale_buyers (
    sale_id  bigint NOT NULL REFERENCES flash_sales,
    buyer_id bigint NOT NULL REFERENCES users,
    units    integer NOT NULL CHECK (units >= 0),
    PRIMARY KEY (sale_id, buyer_id)
);

-- Raised by a flash purchase's checkout statement when the sale refuses it, so the statement writes nothing.
CREATE FUNCTION flash_sale_refusal(reason text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = reason, DETAIL = 'flash sale refusal';
END
$$;

-- A line bought in a flash sale names it: cancelling the order gives its units back to the sale.
ALTER TABLE order_lines ADD COLUMN flash_sale_id bigint REFERENCES flash_sales;
CREATE INDEX order_lines_flash_sale ON order_lines (flash_sale_id) WHERE flash_sale_id IS NOT NULL;
