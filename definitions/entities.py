"""Who the features describe."""

from feast import Entity, ValueType


def driver_entity(driver_entity_name: str, owner: str) -> Entity:
    """A driver, joined on driver_id."""
    return Entity(
        name=driver_entity_name,
        join_keys=["driver_id"],
        value_type=ValueType.INT64,
        description="A driver, joined on driver_id.",
        owner=owner,
        tags={"owner": owner},  # Feast's UI shows an entity's tags, not its owner
    )
