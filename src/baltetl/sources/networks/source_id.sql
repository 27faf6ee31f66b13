-- a network member's own id: the code of its membership row
SELECT 'networks:' || org_id AS org_key, min(record_key) AS sid FROM stg_networks__network_memberships GROUP BY 1
