-- Consented persons of published organisations, and only what a publication needs (made with the revisions;
-- public/views.sql replaces it with the organisation's name as published).
CREATE OR REPLACE VIEW public_persons AS
SELECT p.person_id, p.golden_id, g.name AS organisation, p.name, p.role, p.email, p.phone
FROM persons p
JOIN golden_organisations g ON g.golden_id = p.golden_id
WHERE p.consent_to_publish AND NOT coalesce(g.hidden, false);
