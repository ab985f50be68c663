-- Lists of one type in key order with a keyset cursor (the exemptions of a
-- management group, the policy objects and exemptions loaded at start):
-- resources_type holds a type's rows in (subscription, key) order, so each
-- page of such a list sorted every row of the type (100,000 exemptions:
-- 10-100 s to page through them all); this index walks them in key order.
CREATE INDEX resources_type_key ON resources (type_key, key);
