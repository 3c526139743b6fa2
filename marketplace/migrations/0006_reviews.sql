-- Reviews of purchased products, with the vendor's reply; product and vendor ratings follow them.
CREATE TABLE reviews (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL REFERENCES products,
    vendor_id  bigint NOT NULL REFERENCES vendors,
    buyer_id   bigint NOT NULL REFERENCES users,
    rating     smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body       text NOT NULL,
    reply      text,
    replied_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (buyer_id, product_id)
);
CREATE INDEX reviews_product ON reviews (product_id, id);
CREATE INDEX reviews_vendor ON reviews (vendor_id, id);

ALTER TABLE vendors ADD COLUMN rating_avg numeric(3, 2), ADD COLUMN rating_count integer NOT NULL DEFAULT 0;
