-- an Interreg Sweden partner's own id: programme|project/row of the first row it was taken from
SELECT 'interreg_se:' || p.org_id AS org_key, min(concat_ws('|', j.programme, p.record_key)) AS sid
FROM stg_interreg_se__participations p
JOIN stg_interreg_se__organisations so ON so.org_id = p.org_id AND so.record_ref = p.record_ref
LEFT JOIN stg_interreg_se__projects j ON j.project_id = p.project_id GROUP BY 1
