-- Categories, products with SKUs and images, stock movements, and browsing interactions.

-- unaccent() is only STABLE (its dictionary could change); wrapping it with the dictionary named makes
-- it usable in generated columns and index expressions.
CREATE FUNCTION immutable_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN public.unaccent('public.unaccent'::regdictionary, $1);

CREATE TABLE categories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id  bigint REFERENCES categories,
    name       text NOT NULL,
    slug       text NOT NULL UNIQUE,
    -- ids from the root down to this category, itself included: sub-tree queries are `path @> ARRAY[id]`.
    path       bigint[] NOT NULL,
    position   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX categories_path ON categories USING gin (path);
CREATE INDEX categories_parent ON categories (parent_id, position);

CREATE TABLE products (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vendor_id       bigint NOT NULL REFERENCES vendors,
    category_id     bigint NOT NULL REFERENCES categories,
    title           text NOT NULL,
    brand           text NOT NULL DEFAULT '',
    model           text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    attributes      jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'listed', 'unlisted', 'taken_down')),
    takedown_reason text,
    currency        text NOT NULL DEFAULT 'EUR',
    -- Kept in step with the product's SKUs by the catalog service, for price filters and sorts.
    min_price       bigint,
    max_price       bigint,
    -- Filled by orders and reviews; the seed fills them for the demo.
    sold_count      bigint NOT NULL DEFAULT 0,
    rating_avg      numeric(3, 2),
    rating_count    integer NOT NULL DEFAULT 0,
    -- The title as search compares it: lower case, accents removed (stored, so no row recomputes it).
    title_key       text GENERATED ALWAYS AS (lower(immutable_unaccent(title))) STORED,
    search          tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', immutable_unaccent(title)), 'A')
                        || setweight(to_tsvector('english', immutable_unaccent(brand || ' ' || model)), 'B')
                        || setweight(to_tsvector('english', immutable_unaccent(description)), 'C')
                    ) STORED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_vendor ON products (vendor_id, id);
CREATE INDEX products_listed_category ON products (category_id, id) WHERE status = 'listed';
CREATE INDEX products_search ON products USING gin (search) WHERE status = 'listed';
CREATE INDEX products_title_trgm ON products USING gin (title_key gin_trgm_ops) WHERE status = 'listed';
CREATE INDEX products_listed_price ON products (min_price, id) WHERE status = 'listed';
CREATE INDEX products_listed_new ON products (created_at DESC, id DESC) WHERE status = 'listed';
CREATE INDEX products_listed_sold ON products (sold_count DESC, id) WHERE status = 'listed';
CREATE INDEX products_brand ON products (lower(brand)) WHERE status = 'listed';
CREATE INDEX products_attributes ON products USING gin (attributes jsonb_path_ops) WHERE status = 'listed';

CREATE TABLE skus (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id          bigint NOT NULL REFERENCES products ON DELETE CASCADE,
    code                text NOT NULL,
    attributes          jsonb NOT NULL DEFAULT '{}',
    price               bigint NOT NULL CHECK (price > 0 AND price <= 100000000),
    on_hand             integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved            integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    available           integer GENERATED ALWAYS AS (on_hand - reserved) STORED,
    low_stock_threshold integer NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, code),
    CHECK (reserved <= on_hand)
);
CREATE INDEX skus_product ON skus (product_id);

-- Every change of stock, with who made it and why; on_hand is the running sum.
CREATE TABLE stock_movements (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku_id     bigint NOT NULL REFERENCES skus ON DELETE CASCADE,
    delta      integer NOT NULL,
    on_hand    integer NOT NULL,
    reason     text NOT NULL,
    actor_id   bigint REFERENCES users,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_sku ON stock_movements (sku_id, id);

CREATE TABLE product_images (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id   bigint NOT NULL REFERENCES products ON DELETE CASCADE,
    file_name    text NOT NULL,
    content_type text NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    bytes        integer NOT NULL,
    position     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_images_product ON product_images (product_id, position, id);

-- What buyers do, for recommendations and analytics. Written in batches with COPY, off the request path.
CREATE TABLE interactions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('view', 'search', 'cart', 'purchase')),
    user_id      bigint,
    session_id   text,
    product_id   bigint,
    quantity     integer,
    query        text,
    result_count integer,
    occurred_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interactions_user ON interactions (user_id, occurred_at) WHERE user_id IS NOT NULL;
CREATE INDEX interactions_time ON interactions USING brin (occurred_at);
