-- stock.low whenever any path (checkout, flash-sale purchase, vendor adjustment, threshold change) takes a
-- SKU's available units down to its threshold or below, once per crossing, in the transaction that did it.
-- A trigger, because stock moves in many statements (some of them one large CTE) and an alert that only
-- some paths remember to raise is worse than none.
CREATE FUNCTION announce_low_stock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (topic, type, payload)
    SELECT 'vendor:' || p.vendor_id || ':stock', 'stock.low',
           jsonb_build_object('sku_id', NEW.id, 'product_id', NEW.product_id,
                              'available', NEW.on_hand - NEW.reserved, 'low_stock_threshold', NEW.low_stock_threshold)
    FROM products p WHERE p.id = NEW.product_id;
    RETURN NULL;
END $$;

CREATE TRIGGER skus_low_stock AFTER UPDATE OF on_hand, reserved, low_stock_threshold ON skus
FOR EACH ROW
WHEN (OLD.on_hand - OLD.reserved > OLD.low_stock_threshold AND NEW.on_hand - NEW.reserved <= NEW.low_stock_threshold)
EXECUTE FUNCTION announce_low_stock();
