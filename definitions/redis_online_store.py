"""Feast's Redis online store with a bounded retry policy.

redis-py 7 retries a call that cannot connect three times, waiting 1, 2 and 4 s (with jitter)
between tries, so every lookup against a Redis that is down took ~8 s before its 503, holding a
server thread all that time. Here a call is tried 1 + `retries` times, the pause doubling from
50 ms up to `retry_backoff_cap_seconds` (conf `feast.online_store.retries` and
`retry_backoff_cap`), on the clients of lookups, writes and materializations alike.

Chosen by `type: definitions.redis_online_store.ProjectRedisOnlineStore` (what
`definitions.online_store.online_store_settings` writes for `feast.online_store.type: redis`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from pydantic import Field
from redis.backoff import ExponentialBackoff

from definitions.online_store import REDIS_STORE_TYPE

FIRST_PAUSE_SECONDS = 0.05  # doubled after each failed try, up to the cap


class ProjectRedisOnlineStoreConfig(RedisOnlineStoreConfig):
    """Feast's Redis settings, under the project's store type, with the retry policy."""

    type: Literal["definitions.redis_online_store.ProjectRedisOnlineStore"] = REDIS_STORE_TYPE  # type: ignore[assignment]
    # No defaults here: online_store_settings writes both from conf
    # (trip_features/runtime/settings.py's)
    retries: Annotated[int, Field(ge=0)]
    retry_backoff_cap_seconds: Annotated[float, Field(gt=0)]


class ProjectRedisOnlineStore(RedisOnlineStore):
    """RedisOnlineStore whose clients give up on a Redis that does not answer after the
    configured tries."""

    def _get_client(self, online_store_config: ProjectRedisOnlineStoreConfig):
        fresh = self._client is None
        client = super()._get_client(online_store_config)
        if fresh:
            from redis.retry import Retry

            client.set_retry(Retry(_backoff(online_store_config), online_store_config.retries))
        return client

    async def _get_client_async(self, online_store_config: ProjectRedisOnlineStoreConfig):
        fresh = self._client_async is None
        client = await super()._get_client_async(online_store_config)
        if fresh:
            from redis.asyncio.retry import Retry

            client.set_retry(Retry(_backoff(online_store_config), online_store_config.retries))
        return client


def _backoff(config: ProjectRedisOnlineStoreConfig) -> ExponentialBackoff:
    return ExponentialBackoff(cap=config.retry_backoff_cap_seconds, base=FIRST_PAUSE_SECONDS)
