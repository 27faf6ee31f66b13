-- a keep.eu partner's own id: ID_PARTNER of the row the record was taken from; programme|acronym|partner
-- where keep.eu gives none, or gives one id to records of other names
SELECT 'keep:' || p.org_id AS org_key,
       min(CASE WHEN p.source_partner_id IS NOT NULL AND u.n = 1 THEN p.source_partner_id
                ELSE concat_ws('|', j.programme, j.acronym, so.name) END) AS sid
FROM stg_keep__participations p
JOIN stg_keep__organisations so ON so.org_id = p.org_id AND so.record_ref = p.record_ref
LEFT JOIN stg_keep__projects j ON j.project_id = p.project_id
LEFT JOIN (SELECT source_partner_id, count(DISTINCT org_id) AS n FROM stg_keep__participations
           GROUP BY 1) u USING (source_partner_id)
GROUP BY 1
