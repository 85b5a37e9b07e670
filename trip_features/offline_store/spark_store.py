"""A drop-in Feast offline store: Feast's Spark store with a correct point-in-time join.

    offline_store:
      type: trip_features.offline_store.spark_store.ProjectSparkOfflineStore

What it changes against Feast 0.67's `SparkOfflineStore` (which it extends):
- training sets use `asof_join.point_in_time_join` (DataFrames and `spark.sql` with DataFrame
  arguments, no RDDs: classic and Connect): keys are compared column by column (Feast
  concatenates them, so (1, 23) met (12, 3)), exact event-time ties yield one row (Feast returned
  one per tied feature row), every entity row comes out once, in the entity dataframe's order;
- the caller's `spark.sql.parser.quotedRegexColumnNames` is left as it was;
- results do not depend on the session time zone or the process `TZ`: timestamps are compared as
  instants and come back as UTC-aware pandas timestamps.
Everything else (materialization reads, writes, non-entity retrieval) is Feast's own.
"""

import datetime as dt
import json
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager

import pandas as pd
import pyarrow as pa
import pyspark.sql
from feast.errors import InvalidEntityType
from feast.feature_view import FeatureView
from feast.infra.offline_stores import offline_utils
from feast.infra.offline_stores.contrib.spark_offline_store.spark import (
    SparkOfflineStore,
    SparkOfflineStoreConfig,
    SparkRetrievalJob,
)
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.on_demand_feature_view import OnDemandFeatureView
from pydantic import StrictStr
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from trip_features.offline_store.asof_join import ROW_ID, ViewJoin, latest_rows, point_in_time_join
from trip_features.offline_store.source_size import known_small
from trip_features.offline_store.temporal_windows import (
    RECENT_TRIPS_TAG,
    TEMPORAL_TAG,
    plan_of_view,
    recent_trips,
    with_windows_at_rows,
)
from trip_features.runtime.typeguard_cache import installed_first

_REGEX_NAMES = "spark.sql.parser.quotedRegexColumnNames"
# An on-demand view's features as Spark columns: (frame, {feature: result column}) -> the frame
# with them added, or None when it cannot compute them exactly (the view's function runs then).
OnSpark = Callable[[DataFrame, dict[str, str]], DataFrame | None]


def quiet_feast_warnings() -> None:
    """Feast warns that its Spark store and on-demand views are experimental every time a process
    builds one; the project's docs say so once. Feast's modules install their own filters when
    imported, so this runs after them."""
    warnings.filterwarnings(
        "ignore", message=r".*(alpha development|experimental feature)", category=RuntimeWarning
    )


quiet_feast_warnings()


class ProjectSparkOfflineStoreConfig(SparkOfflineStoreConfig):
    type: StrictStr = "trip_features.offline_store.spark_store.ProjectSparkOfflineStore"


def _session(config: SparkOfflineStoreConfig) -> SparkSession:
    """The active session, else one from the store's `spark_conf`; its settings are not changed."""
    spark = SparkSession.getActiveSession()
    if spark is None:
        builder = SparkSession.builder
        for key, value in (config.spark_conf or {}).items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    return spark


@contextmanager
def _regex_column_names(spark: SparkSession):
    """Feast's SQL needs quoted regex column names while it is parsed; the caller's value returns."""
    before = spark.conf.get(_REGEX_NAMES, None)
    spark.conf.set(_REGEX_NAMES, "true")
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(_REGEX_NAMES)
        else:
            spark.conf.set(_REGEX_NAMES, before)


def _utc_pandas(frame: pd.DataFrame, spark: SparkSession) -> pd.DataFrame:
    """Spark hands naive wall-clock times in the session zone to pandas: make them UTC-aware."""
    zone = spark.conf.get("spark.sql.session.timeZone")
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_datetime64_dtype(dtype) and getattr(dtype, "tz", None) is None:
            frame[name] = (
                frame[name]
                .dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
                .dt.tz_convert("UTC")
            )
    return frame


class ProjectRetrievalJob(SparkRetrievalJob):
    """A retrieval job over a DataFrame built with the DataFrame API instead of a SQL string."""

    def __init__(
        self,
        spark_session,
        frame_builder,
        config,
        full_feature_names,
        on_demand_feature_views,
        metadata,
    ):
        super().__init__(
            spark_session=spark_session,
            query="",
            full_feature_names=full_feature_names,
            config=config,
            on_demand_feature_views=on_demand_feature_views,
            metadata=metadata,
        )
        self._frame_builder = frame_builder

    def to_spark_df(self) -> pyspark.sql.DataFrame:
        return self._frame_builder()

    def _has_remote_warehouse_in_config(self) -> bool:
        """Feast's own asks `sparkContext`, which a Connect session does not have."""
        conf = self.spark_session.conf
        if conf.get("hive.metastore.uris", None):
            return True
        warehouse = conf.get("spark.sql.warehouse.dir", None) or ""
        return bool(warehouse) and not warehouse.startswith(("file:", "/"))

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return _utc_pandas(self.to_spark_df().toPandas(), self.spark_session)

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        if self._should_use_staging_for_arrow():
            return self._to_arrow_via_staging()
        return pa.Table.from_pandas(self._to_df_internal(timeout), preserve_index=False)


class _QuietRegexRetrievalJob(SparkRetrievalJob):
    """Feast's own SQL job, parsed with regex column names on and the caller's setting restored."""

    def to_spark_df(self) -> pyspark.sql.DataFrame:
        with _regex_column_names(self.spark_session):
            return super().to_spark_df()

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return _utc_pandas(self.to_spark_df().toPandas(), self.spark_session)


def _entity_frame(spark: SparkSession, entity_df) -> DataFrame:
    """The entity rows as a Spark DataFrame with a ROW_ID giving their order."""
    if isinstance(entity_df, pd.DataFrame):
        frame = entity_df.reset_index(drop=True).copy()
        frame.insert(0, ROW_ID, range(len(frame)))
        return spark.createDataFrame(frame)
    if isinstance(entity_df, str):
        entity_df = spark.sql(entity_df)
    if isinstance(entity_df, DataFrame):
        # Increasing in the DataFrame's own order (partition, then position), with gaps that do
        # not matter: ROW_ID only orders the result. No RDD, so Spark Connect works too.
        return entity_df.withColumn(ROW_ID, F.monotonically_increasing_id())
    raise InvalidEntityType(type(entity_df))


def _pandas_timestamps_utc(entity_df, timestamp: str):
    if isinstance(entity_df, pd.DataFrame) and timestamp in entity_df:
        entity_df = entity_df.copy()
        entity_df[timestamp] = pd.to_datetime(entity_df[timestamp], utc=True)
    return entity_df


class ProjectSparkOfflineStore(SparkOfflineStore):
    @staticmethod
    def get_historical_features(
        config,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df,
        registry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
        **kwargs,
    ) -> RetrievalJob:
        if entity_df is None:  # retrieval by date range: Feast's own
            job = SparkOfflineStore.get_historical_features(
                config,
                feature_views,
                feature_refs,
                entity_df,
                registry,
                project,
                full_feature_names,
                filter_by_created_timestamp=filter_by_created_timestamp,
                **kwargs,
            )
            return _quiet(job)
        spark = _session(config.offline_store)
        if isinstance(entity_df, pd.DataFrame):
            schema = dict(zip(entity_df.columns, entity_df.dtypes, strict=True))
        else:
            probe = spark.sql(entity_df) if isinstance(entity_df, str) else entity_df
            schema = {f.name: f.dataType for f in probe.schema.fields}
        timestamp = offline_utils.infer_event_timestamp_from_entity_df(schema)
        offline_utils.assert_expected_columns_in_entity_df(
            schema,
            offline_utils.get_expected_join_keys(project, feature_views, registry),
            timestamp,
        )
        entity_df = _pandas_timestamps_utc(entity_df, timestamp)
        entities = _entity_frame(spark, entity_df)
        requested = _requested_features(feature_refs, feature_views, registry, project)
        views = [  # a view of recent trips serves online windows only: the store computes them
            _view_join(spark, view, features, full_feature_names)
            for view, features in requested.items()
            if RECENT_TRIPS_TAG not in view.tags
        ]
        odfvs = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
        temporal = [
            _temporal_join(spark, odfv, feature_views, full_feature_names)
            for odfv in odfvs
            if TEMPORAL_TAG in odfv.tags
        ]
        if isinstance(entity_df, pd.DataFrame):
            bounds = (entity_df[timestamp].min(), entity_df[timestamp].max())
        else:  # a Spark job, run only if someone reads the metadata's times
            bounds = lambda: tuple(entities.agg(F.min(timestamp), F.max(timestamp)).first())  # noqa: E731

        def build() -> DataFrame:
            joined = point_in_time_join(
                entities, timestamp, views, filter_by_created=filter_by_created_timestamp
            )
            for (
                windows
            ) in temporal:  # at each row's own time (trip_features.offline_store.temporal_windows)
                joined = windows(joined, timestamp)
            # The sort samples its input to find its ranges, and sampling the join itself would
            # run the join twice: a shuffle first makes the sample read the joined rows instead.
            return joined.repartition(ROW_ID).orderBy(ROW_ID).drop(ROW_ID)

        return ProjectRetrievalJob(
            spark_session=spark,
            frame_builder=build,
            config=config,
            full_feature_names=full_feature_names,
            on_demand_feature_views=[o for o in odfvs if TEMPORAL_TAG not in o.tags],
            metadata=_Metadata(
                features=feature_refs, keys=[c for c in schema if c != timestamp], bounds=bounds
            ),
        )

    @staticmethod
    def pull_latest_from_table_or_query(
        config,
        data_source,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: dt.datetime,
        end_date: dt.datetime,
    ) -> RetrievalJob:
        """Each key's latest row with its event time in [start_date, end_date] (both included,
        as in Feast's), found by one aggregation instead of a sort of every row. "Latest" is the
        as-of join's rule (event time, then created time, then a hash of the values), so the
        online store serves the row a training set at that time would see, ties included."""
        spark = _session(config.offline_store)
        recipe = (data_source.tags or {}).get(RECENT_TRIPS_TAG)

        def build() -> DataFrame:
            if recipe:  # each key's recent trips, for the windows at request time
                return recent_trips(
                    _source_frame(spark, data_source),
                    join_key_columns[0],
                    timestamp_field,
                    created_timestamp_column,
                    json.loads(recipe),
                    end_date,
                )
            return latest_rows(
                _source_frame(spark, data_source),
                join_key_columns,
                feature_name_columns,
                timestamp_field,
                created_timestamp_column,
                (start_date, end_date),
                data_source.field_mapping,
            )

        return ProjectRetrievalJob(
            spark_session=spark,
            frame_builder=build,
            config=config,
            full_feature_names=False,
            on_demand_feature_views=None,
            metadata=None,
        )

    @staticmethod
    def pull_all_from_table_or_query(*args, **kwargs) -> RetrievalJob:
        return _quiet(SparkOfflineStore.pull_all_from_table_or_query(*args, **kwargs))

    @staticmethod
    def write_logged_features(config, data, source, logging_config, registry) -> None:
        """Feast's feature logging: parquet files under the service's destination, one folder per
        day (trip_features.offline_store.logged_features); written without Spark, from the
        server."""
        from trip_features.offline_store.logged_features import write_logged_features

        write_logged_features(config, data, source, logging_config, registry)


def _quiet(job: RetrievalJob) -> RetrievalJob:
    """Feast's job, with the session setting Feast switched on put back as it was."""
    if not isinstance(job, SparkRetrievalJob):
        return job
    spark = job.spark_session
    spark.conf.unset(_REGEX_NAMES)  # Feast set it while building the job
    quiet = _QuietRegexRetrievalJob.__new__(_QuietRegexRetrievalJob)
    quiet.__dict__.update(job.__dict__)
    return quiet


def _requested_features(feature_refs, feature_views, registry, project) -> dict:
    """Feature view -> the features asked of it, as Feast resolves the references."""
    by_view, _ = offline_utils._get_requested_feature_views_to_features_dict(
        feature_refs,
        feature_views,
        offline_utils._get_requested_on_demand_feature_views(feature_refs, project, registry),
    )
    return by_view


def _source_frame(spark: SparkSession, source) -> DataFrame:
    """The view's batch source as a DataFrame: a table, a query, or files read once (Feast's
    `get_table_query_string` reads the files and registers a temporary view on every call)."""
    if source.table:
        return spark.read.table(source.table)
    if source.query:
        return spark.sql(source.query)
    return source._load_dataframe_from_path(spark)


def _view_join(spark: SparkSession, view: FeatureView, features, full_feature_names) -> ViewJoin:
    """What the join needs of one view, named as Feast's query context names it."""
    source = view.batch_source
    if source is None:
        raise ValueError(f"feature view {view.name!r} has no batch source and cannot be queried")
    reverse = {v: k for k, v in source.field_mapping.items()}
    keys = {}
    for entity_column in view.entity_columns:
        entity_key = view.projection.join_key_map.get(entity_column.name, entity_column.name)
        keys[entity_key] = reverse.get(entity_column.name, entity_column.name)
    name = view.projection.name_to_use()
    outputs = {}
    for feature in features:
        column = reverse.get(feature, feature)
        shown = source.field_mapping.get(column, column)
        outputs[column] = f"{name}__{shown}" if full_feature_names else shown
    created = reverse.get(source.created_timestamp_column, source.created_timestamp_column)
    frame = _source_frame(spark, source)
    return ViewJoin(
        name=name,
        source=frame,
        keys=keys,
        timestamp=reverse.get(source.timestamp_field, source.timestamp_field),
        created=created or None,
        features=outputs,
        ttl=view.ttl if isinstance(view.ttl, dt.timedelta) and view.ttl else None,
        whole_timelines=known_small(frame),
    )


def _temporal_join(spark: SparkSession, odfv: OnDemandFeatureView, feature_views, full: bool):
    """How to add a temporal on-demand view's requested features to the joined rows: at each
    row's own time, over the trips of the view of recent trips it reads."""
    recent = next(
        (
            v
            for v in feature_views
            if RECENT_TRIPS_TAG in v.tags and v.name in odfv.source_feature_view_projections
        ),
        None,
    )
    if recent is None:
        raise ValueError(f"on-demand view {odfv.name} reads no view of recent trips")
    plan = plan_of_view(odfv)
    asked = [f.name for f in odfv.projection.features] or list(plan)
    prefix = f"{odfv.projection.name_to_use()}__" if full else ""
    (entity_column,) = recent.entity_columns
    key = recent.projection.join_key_map.get(entity_column.name, entity_column.name)
    source = recent.batch_source
    reverse = {v: k for k, v in source.field_mapping.items()}
    trips = _source_frame(spark, source)

    def add(rows: DataFrame, timestamp: str) -> DataFrame:
        return with_windows_at_rows(
            rows,
            ROW_ID,
            key,
            timestamp,
            trips,
            reverse.get(entity_column.name, entity_column.name),
            reverse.get(source.timestamp_field, source.timestamp_field),
            {name: plan[name] for name in asked},
            {name: f"{prefix}{name}" for name in asked},
        )

    return add


class _Metadata(RetrievalMetadata):
    """Feast's metadata, whose entity time range is found (one Spark job) only when read."""

    def __init__(self, features, keys, bounds):
        self._bounds = bounds
        super().__init__(features=features, keys=keys)

    def _range(self) -> tuple:
        if callable(self._bounds):
            self._bounds = self._bounds()
        return self._bounds

    # Setters take Feast's __init__ assigning its defaults (None); the range is ours to find.
    min_event_timestamp = property(lambda self: self._range()[0], lambda self, _: None)
    max_event_timestamp = property(lambda self: self._range()[1], lambda self, _: None)


def with_on_demand_features(job: RetrievalJob, on_spark: Mapping[str, OnSpark] | None = None):
    """The job's Spark DataFrame with its on-demand views applied on the executors (Feast's own
    `to_df` would apply them to one pandas frame on the driver). A view named in `on_spark` is
    computed by its Spark function (column expressions) unless that returns None; the others by
    the view's own function, batch by batch in Python workers. The result's schema comes from
    the views' declared fields: no Spark job runs to find it out."""
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    frame = job.to_spark_df()
    full = job.full_feature_names
    for view in job.on_demand_feature_views:
        declared = _declared(view, full)
        spark_body = (on_spark or {}).get(view.name)
        computed = None
        if spark_body is not None:
            names = dict(zip((f.name for f in view.features), declared, strict=True))
            computed = spark_body(frame, names)
        if computed is not None:
            frame = computed.select(
                *[c for c in computed.columns if c not in declared],
                *[F.col(n).cast(from_arrow_type(kind)) for n, kind in declared.items()],
            )
            continue
        schema = StructType(
            [f for f in frame.schema.fields if f.name not in declared]
            + [StructField(name, from_arrow_type(kind)) for name, kind in declared.items()]
        )

        shipped = installed_first(view)  # the workers install typeguard's cache, then Feast

        def apply(batches, view=shipped, declared=declared):
            quiet_feast_warnings()  # in the Python worker
            for batch in batches:
                table = pa.Table.from_batches([batch])
                computed = view.transform_arrow(table, full)
                missing = sorted(set(declared) - set(computed.column_names))
                if missing:
                    raise ValueError(
                        f"on-demand view {view.name} returned no {missing}: its function must "
                        "return every field its schema declares"
                    )
                kept = [c for c in table.column_names if c not in declared]
                columns = [table[c] for c in kept]
                columns += [computed[name].cast(kind) for name, kind in declared.items()]
                yield from pa.Table.from_arrays(columns, names=kept + list(declared)).to_batches()

        frame = frame.mapInArrow(apply, schema)
    return frame


def _declared(view: OnDemandFeatureView, full: bool) -> dict[str, pa.DataType]:
    """The view's features as named in the result, in declared order, with their Arrow types (a
    Python-mode view's ints come back as int64 from Arrow's inference; its schema may say Int32)."""
    from feast.types import from_feast_to_pyarrow_type

    prefix = f"{view.projection.name_to_use()}__" if full else ""
    return {f"{prefix}{f.name}": from_feast_to_pyarrow_type(f.dtype) for f in view.features}
