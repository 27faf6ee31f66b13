"""Partner revisions: the contract every row of a file in the revisions folder must meet.

One row (CSV) or one list item (YAML) is one operation.  Every operation needs:

    op        what to do: correct, add_organisation, link, hide, merge, keep_apart, add_person
    target    what it is about: an organisation (its golden id, or a source record such as
              'cordis:999994535' or 'keep:LV-60eca477d6e19d'), a project ('cordis:101099552'), or, for
              add_organisation, the new organisation's own key 'revisions:<lower-case-words-with-dashes>'
    author    who asks for it (a name or an e-mail address)
    date      when, as YYYY-MM-DD (a real calendar day)

and, depending on the operation:

    correct           field (which value to change, e.g. website, city, name, title) and value (the new value)
    add_organisation  name and country (two letters: FI, LV, ...); optionally short_name, org_type,
                      activity_type, city, nuts3, website, metropolis_id
    link              other (the project the target organisation takes part in); optionally role
    merge, keep_apart other (the second organisation)
    add_person        name and consent_to_publish (yes or no); optionally role, email, phone.
                      The target is the person's organisation.  A later row about the same person (the
                      same organisation and name, or the person_id published in persons.csv) updates it,
                      e.g. withdraws consent.
    hide              nothing more: the organisation or project is not published

`reason` (why) is optional but recommended.  A row that breaks a rule is reported with its file and line
and is not applied; every other row still is.
"""

import re

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from .core import COUNTRIES

OPS = ["correct", "add_organisation", "link", "hide", "merge", "keep_apart", "add_person"]
YES_NO = ["yes", "no"]
ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"
EMAIL = r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$"
NEW_ORG_KEY = r"^revisions:[a-z0-9][a-z0-9-]*$"
PERSON_ID = r"^person-[0-9a-f]{10}$"
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# never set by a correction: identifiers and bookkeeping
PROTECTED_FIELDS = {"golden_id", "org_key", "project_key", "source", "sources", "records", "hidden", "record_ref",
                    "project_id", "org_id"}  # fmt: skip
# the columns a revision file may have (any subset, in any order; op, target, author and date are required)
COLUMNS = ["op", "target", "field", "value", "other", "author", "date", "reason",
           "name", "short_name", "org_type", "activity_type", "country", "city", "nuts3", "website", "metropolis_id",
           "role", "email", "phone", "consent_to_publish", "person_id"]  # fmt: skip


def _given(s: pd.Series) -> pd.Series:
    return s.notna() & (s.astype("string").str.strip() != "")


class Revision(pa.DataFrameModel):
    op: Series[str] = pa.Field(isin=OPS, description="what to do")
    target: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 300}, description="what it is about")
    field: Series[str] = pa.Field(nullable=True, description="correct: the value to change")
    value: Series[str] = pa.Field(nullable=True, str_length={"max_value": 5000}, description="correct: the new value")
    other: Series[str] = pa.Field(nullable=True, description="link: the project; merge / keep_apart: the 2nd organisation")
    author: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 200}, description="who asks for it")
    date: Series[str] = pa.Field(str_matches=ISO_DAY, description="when: YYYY-MM-DD")
    reason: Series[str] = pa.Field(nullable=True, description="why")
    name: Series[str] = pa.Field(nullable=True, str_length={"max_value": 500})
    country: Series[str] = pa.Field(nullable=True, isin=COUNTRIES)
    nuts3: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}[0-9A-Z]{3}$")
    email: Series[str] = pa.Field(nullable=True, str_matches=EMAIL, description="a person's e-mail address")
    consent_to_publish: Series[str] = pa.Field(nullable=True, isin=YES_NO, description="yes or no")
    person_id: Series[str] = pa.Field(nullable=True, str_matches=PERSON_ID, description="add_person: the person meant")

    class Config:
        coerce = True
        strict = False  # the other optional columns are free text

    @pa.check("date", name="date is a real calendar day")
    def real_day(cls, s: Series[str]) -> Series[bool]:
        return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").notna()

    @pa.dataframe_check(name="correct needs field and value", element_wise=False)
    def correct_complete(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["op"] != "correct") | (_given(df["field"]) & _given(df["value"]))

    @pa.dataframe_check(name="field is a plain lower-case column name that may be corrected", element_wise=False)
    def field_allowed(cls, df: pd.DataFrame) -> Series[bool]:
        f = df["field"]
        ok = f.map(lambda v: isinstance(v, str) and bool(FIELD_NAME.match(v)) and v not in PROTECTED_FIELDS)
        return ~_given(f) | ok.astype(bool)

    @pa.dataframe_check(name="merge, keep_apart and link need other", element_wise=False)
    def pair_complete(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["op"].isin(["merge", "keep_apart", "link"]) | _given(df["other"])

    @pa.dataframe_check(name="merge and keep_apart need two different organisations", element_wise=False)
    def pair_distinct(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["op"].isin(["merge", "keep_apart"]) | (df["target"] != df["other"])

    @pa.dataframe_check(name="add_organisation needs name, country and target revisions:<key>", element_wise=False)
    def new_org_complete(cls, df: pd.DataFrame) -> Series[bool]:
        key_ok = df["target"].astype("string").str.match(NEW_ORG_KEY).fillna(False).astype(bool)
        return (df["op"] != "add_organisation") | (_given(df["name"]) & _given(df["country"]) & key_ok)

    @pa.dataframe_check(name="add_person needs name (or person_id) and consent_to_publish (yes or no)",
                        element_wise=False)
    def person_complete(cls, df: pd.DataFrame) -> Series[bool]:
        who = _given(df["name"]) | _given(df["person_id"])
        return (df["op"] != "add_person") | (who & _given(df["consent_to_publish"]))


CONTRACTS = {"revisions": Revision}
