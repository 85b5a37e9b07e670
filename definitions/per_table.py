"""Hamilton decorators making one definitions node per table of the feature catalogue (the DAG
is configured with the catalogue's `table_features`), so a table declared there gets its Feast
source and view without a function of its own."""

from hamilton.function_modifiers import (
    ResolveAt,
    parameterize,
    resolve,
    source,
    tag_outputs,
    value,
)


def per_table(suffix: str, **parameters):
    """One node per table of the catalogue, `<table><suffix>`, given its name as `table` and each
    of `parameters` (name -> suffix) as the node of that table: `source("<table><suffix>")`."""

    def decorate(table_features: dict[str, list[str]]):
        return parameterize(
            **{
                f"{table}{suffix}": {
                    "table": value(table),
                    **{name: source(f"{table}{of}") for name, of in parameters.items()},
                }
                for table in table_features
            }
        )

    return resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate)


def reading_its_table(suffix: str):
    """Each `<table><suffix>` node reads its published table (the lineage graph's edge)."""

    def decorate(table_features: dict[str, list[str]]):
        return tag_outputs(**{f"{t}{suffix}": {"lineage_reads": t} for t in table_features})

    return resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate)
