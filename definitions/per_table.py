"""Hamilton decorators making definitions nodes from the feature catalogue (the DAG is configured
with `Catalogue.hamilton_config`): one node per declared table, per temporal table, per service,
so a table or service declared there gets its Feast objects without a function of its own."""

from hamilton.function_modifiers import (
    ResolveAt,
    config,
    group,
    parameterize,
    resolve,
    source,
    tag_outputs,
    value,
)

from transforms.feature_catalogue import TEMPORAL

CALENDAR_VIEW = "request_calendar_view"  # definitions.on_demand_views


def _each(tables, suffix: str, parameters: dict[str, str]) -> parameterize:
    return parameterize(
        **{
            f"{table}{suffix}": {
                "table": value(table),
                **{name: source(f"{table}{of}") for name, of in parameters.items()},
            }
            for table in tables
        }
    )


def per_table(suffix: str, **parameters):
    """One node per table of the catalogue, `<table><suffix>`, given its name as `table` and each
    of `parameters` (name -> suffix) as the node of that table: `source("<table><suffix>")`."""

    def decorate(table_features: dict[str, list[str]]):
        return _each(table_features, suffix, parameters)

    return resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate)


def per_temporal_table(suffix: str, **parameters):
    """`per_table` over the temporal tables only (none: no node)."""

    def decorate(temporal_tables: list[str]):
        return _each(temporal_tables, suffix, parameters)

    def both(function):
        resolved = resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate)(function)
        return config.when(any_temporal_table=True)(resolved)

    return both


def reading_its_table(suffix: str, temporal_only: bool = False):
    """Each `<table><suffix>` node reads its published table (the lineage graph's edge)."""

    def decorate(table_features: dict[str, list[str]], temporal_tables: list[str]):
        tables = temporal_tables if temporal_only else table_features
        return tag_outputs(**{f"{t}{suffix}": {"lineage_reads": t} for t in tables})

    return resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate)


def view_node(table: str, table_accuracy: dict[str, str]) -> str:
    """The node of the view a service serves a table through: the windows at the moment asked
    for a temporal table, the table's own view for a snapshot table."""
    return f"{table}_now_view" if table_accuracy[table] == TEMPORAL else f"{table}_view"


def per_service():
    """One node per declared service (none: no node), named as the service, given its name as
    `service` and its views, in the declared order, as `views`."""

    def decorate(services: dict[str, tuple], table_accuracy: dict[str, str]):
        views = {
            name: [view_node(t, table_accuracy) for t in tables] + [CALENDAR_VIEW] * calendar
            for name, (tables, calendar) in services.items()
        }
        return parameterize(
            **{
                name: {"service": value(name), "views": group(*[source(v) for v in nodes])}
                for name, nodes in views.items()
            }
        )

    def both(function):
        resolved = resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate)(function)
        return config.when(any_service=True)(resolved)

    return both
