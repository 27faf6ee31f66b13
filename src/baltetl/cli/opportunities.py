"""CLI: `baltetl opportunities` — the co-operation opportunity report for one metropolis.

Registered on the main app by `register(app)` (src/baltetl/cli/__init__.py).  Reads the warehouse read-only:
analysts may hold it open.  Plain text output (names come from the sources and are printed as they are,
never interpreted as markup).
"""

from __future__ import annotations

import textwrap
from typing import Annotated, Optional

import typer

from .common import ConfigOpt, WarehouseOpt, open_warehouse

NEEDED = ("opportunities", "metropolis_links", "metropolises")


def find_metropolis(con, wanted: str) -> tuple[str, str] | None:
    """(id, name) of a metropolis given by id or name, any case ("riga", "Riga", "gdansk", "Gdańsk")."""
    rows = con.execute("SELECT metropolis_id, name FROM metropolises ORDER BY metropolis_id").fetchall()
    w = wanted.strip().casefold()
    for mid, name in rows:
        if w in (mid.casefold(), name.casefold(), mid.replace("_", " ").casefold()):
            return mid, name
    from anyascii import anyascii

    for mid, name in rows:
        if anyascii(w) == anyascii(name).casefold():
            return mid, name
    return None


def links(con, metro: str) -> list[tuple]:
    """The metropolis' existing links: (other metropolis, ongoing projects, of them on the topics, organisations
    here, organisations there), most ongoing projects first."""
    return con.execute(
        """SELECT CASE WHEN l.metro_a = $m THEN l.metro_b ELSE l.metro_a END AS other,
                  l.ongoing_projects, l.related_projects,
                  CASE WHEN l.metro_a = $m THEN l.organisations_a ELSE l.organisations_b END,
                  CASE WHEN l.metro_a = $m THEN l.organisations_b ELSE l.organisations_a END
           FROM metropolis_links l WHERE $m IN (l.metro_a, l.metro_b)
           ORDER BY l.ongoing_projects DESC, other""",
        {"m": metro},
    ).fetchall()


def top_opportunities(con, metro: str, top: int, per_org: int = 0, other: str | None = None) -> list[dict]:
    """The metropolis' best opportunities, at most `per_org` for one of its organisations (0: no limit),
    with `other` only if given.  Each: score, own and partner organisation, their metropolises and roles,
    shared topics and networks, reasons."""
    rows = con.execute(
        """WITH mine AS (
               SELECT o.score, o.reasons, o.shared_topics, o.shared_networks, o.complementary,
                      CASE WHEN o.metro_a = $m THEN o.golden_a ELSE o.golden_b END AS own_id,
                      CASE WHEN o.metro_a = $m THEN o.name_a ELSE o.name_b END AS own,
                      CASE WHEN o.metro_a = $m THEN o.role_a ELSE o.role_b END AS own_role,
                      CASE WHEN o.metro_a = $m THEN o.golden_b ELSE o.golden_a END AS partner_id,
                      CASE WHEN o.metro_a = $m THEN o.name_b ELSE o.name_a END AS partner,
                      CASE WHEN o.metro_a = $m THEN o.role_b ELSE o.role_a END AS partner_role,
                      CASE WHEN o.metro_a = $m THEN o.metro_b ELSE o.metro_a END AS partner_metro
               FROM opportunities o
               WHERE $m IN (o.metro_a, o.metro_b) AND ($other IS NULL OR $other IN (o.metro_a, o.metro_b))
           )
           SELECT mine.*, mp.name AS partner_metro_name
           FROM mine LEFT JOIN metropolises mp ON mp.metropolis_id = mine.partner_metro
           QUALIFY $per_org = 0
                OR row_number() OVER (PARTITION BY own_id ORDER BY score DESC, partner_id) <= $per_org
           ORDER BY score DESC, own_id, partner_id
           LIMIT $top""",
        {"m": metro, "other": other, "per_org": per_org, "top": top},
    )  # fmt: skip
    cols = [d[0] for d in rows.description]
    return [dict(zip(cols, r)) for r in rows.fetchall()]


def _who(name: str | None, metro: str | None, role: str | None) -> str:
    extra = ", ".join(x for x in (metro, role) if x)
    return f"{name or '?'} ({extra})" if extra else (name or "?")


def register(app: typer.Typer) -> None:
    @app.command("opportunities")
    def opportunities(
        metropolis: Annotated[Optional[str], typer.Option("--metropolis", "-m", help="Metropolis id or name (default: opportunities.metropolis of the configuration, riga).")] = None,
        top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many opportunities to print.")] = 10,
        per_organisation: Annotated[int, typer.Option("--per-organisation", min=0, help="At most this many for one organisation of the metropolis (0: no limit).")] = 3,
        with_: Annotated[Optional[str], typer.Option("--with", help="Only opportunities with this other metropolis.")] = None,
        warehouse: WarehouseOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Co-operation report for a metropolis: its existing links, then its top-ranked opportunities with reasons."""

        cfg, con = open_warehouse(config, warehouse, NEEDED, "the opportunity marts")
        try:
            wanted = metropolis or (cfg.raw.get("opportunities") or {}).get("metropolis") or "riga"
            found = find_metropolis(con, wanted)
            other = find_metropolis(con, with_) if with_ else None
            if found is None or (with_ and other is None):
                known = ", ".join(r[0] for r in con.execute("SELECT metropolis_id FROM metropolises ORDER BY 1").fetchall())
                typer.echo(f"unknown metropolis {with_ if found else wanted!r}; known: {known}", err=True)
                raise typer.Exit(2)
            mid, name = found
            names = dict(con.execute("SELECT metropolis_id, name FROM metropolises").fetchall())
            link_rows = links(con, mid)
            opps = top_opportunities(con, mid, top, per_organisation, other[0] if other else None)
            counts = con.execute(
                "SELECT count(*), count(DISTINCT CASE WHEN metro_a = $m THEN golden_a ELSE golden_b END) "
                "FROM opportunities WHERE $m IN (metro_a, metro_b) AND ($o IS NULL OR $o IN (metro_a, metro_b))",
                {"m": mid, "o": other[0] if other else None}).fetchall()[0]  # fmt: skip
        finally:
            con.close()

        typer.echo(f"{name}: co-operation report ({cfg.warehouse})")
        typer.echo("")
        typer.echo(f"Existing links: ongoing projects with partners in {name} and in another metropolis")
        if not link_rows:
            typer.echo("  none")
        else:
            typer.echo(f"  {'with':<15}{'ongoing':>8}{'on topics':>11}{'orgs here':>11}{'orgs there':>12}")
            for o, n, rel, here, there in link_rows:
                typer.echo(f"  {names.get(o, o):<15}{n:>8}{rel:>11}{here:>11}{there:>12}")
        typer.echo("")
        limit = f"at most {per_organisation} per organisation of {name}" if per_organisation else "no limit per organisation"
        scope = f" with {other[1]}" if other else ""
        typer.echo(f"Top {top} opportunities{scope}: organisations with no project together yet ({limit}; "
                   f"{counts[0]} kept for {counts[1]} organisations of {name})")  # fmt: skip
        if not opps:
            typer.echo("  none")
        for i, o in enumerate(opps, 1):
            typer.echo(f"{i:>3}. {o['score']:.2f}  {_who(o['own'], name, o['own_role'])}")
            typer.echo(f"{'':>10}with {_who(o['partner'], o['partner_metro_name'] or o['partner_metro'], o['partner_role'])}")
            for line in textwrap.wrap(o["reasons"], width=100):
                typer.echo(f"{'':>10}{line}")

    @app.command("backtest-opportunities")
    def backtest_opportunities(
        cut: Annotated[str, typer.Option("--cut", help="The date (YYYY-MM-DD): rankings from what was known before it, scored against the projects started on or after it.")],
        k: Annotated[str, typer.Option("--k", help="Comma-separated cut-offs for precision@k and recall@k.")] = "50,100,500",
        reps: Annotated[int, typer.Option("--reps", min=10, help="Bootstrap samples of organisations for the 95 % intervals.")] = 100,
        warehouse: WarehouseOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Backtest of the opportunity rankings: the learned one (trained before the cut), the hand-weighted one and
        the classic link predictors on the same candidate pairs; a table, then p_at_100=… ratio=… ap_ratio=…."""
        from .. import opportunities as opp

        ks = _ks(k)
        when = _date(cut)
        cfg, con = _open(config, warehouse)
        con.close()
        try:
            result = opp.backtest(cfg, when, ks=ks, reps=reps, log=lambda m: typer.echo(m, err=True))
        except ValueError as e:
            typer.echo(f"backtest at {cut}: {e}", err=True)
            raise typer.Exit(2) from None
        typer.echo(opp.table(result, ks))

    @app.command("train-opportunities")
    def train_opportunities(
        cut: Annotated[Optional[str], typer.Option("--cut", help="Train on the 6 and 12 months before this date (default: the first of the month by which 95 % of the dated projects had started).")] = None,
        warehouse: WarehouseOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Train the opportunity ranking on the warehouse's past and save it in the state folder; the next build
        ranks the opportunities with it."""
        from .. import opportunities as opp

        cfg, con = _open(config, warehouse)
        con.close()
        when = _date(cut) if cut else opp.default_cut(cfg)
        try:
            model = opp.train_model(cfg, when, log=lambda m: typer.echo(m, err=True))
        except ValueError as e:
            typer.echo(f"train-opportunities: {e}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"model written to {opp.save(cfg, model)}; the next build ranks the opportunities with it")


def _open(config, warehouse):

    return open_warehouse(config, warehouse, ("projects", "participations", "golden_organisations", "organisation_sources",
                                              "network_memberships", "metropolises"), "organisation resolution")  # fmt: skip


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is no date (YYYY-MM-DD)", param_hint="--cut") from None


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        ks = ()
    if not ks or ks[0] < 1:
        raise typer.BadParameter(f"{text!r}: positive whole numbers separated by commas", param_hint="--k")
    if 100 not in ks:
        ks = tuple(sorted({*ks, 100}))  # the last line reports p@100
    return ks
