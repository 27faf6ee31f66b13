-- a Eurocities member's own id: its name in the directory
SELECT org_key, name AS sid FROM organisations WHERE source = 'eurocities'
