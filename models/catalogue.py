"""The catalogue: partners, categories, services and their links."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.enums import PartnerKind, Platform, ServiceKind, ServiceStatus


class Partner(Model):
    """Who provides a service: a partner organisation or the public employment service itself."""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=80, unique=True)
    name = fields.CharField(max_length=120)
    kind = fields.CharEnumField(PartnerKind, max_length=32)
    website = fields.CharField(max_length=2000, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "partner"

    @property
    def is_public_employment_service(self) -> bool:
        return self.kind is PartnerKind.PUBLIC_EMPLOYMENT_SERVICE


class Category(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=80, unique=True)
    name = fields.CharField(max_length=120)
    description = fields.TextField()
    position = fields.SmallIntField()

    class Meta:
        table = "category"
        ordering = ["position"]


class Service(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=80, unique=True)
    name = fields.CharField(max_length=120)
    # Lowercased, accents stripped: NAME ordering is the same on SQLite and PostgreSQL.
    sort_name = fields.CharField(max_length=120, db_index=True)
    short_description = fields.CharField(max_length=300)
    long_description = fields.TextField()
    kind = fields.CharEnumField(ServiceKind, max_length=32, db_index=True)
    provider: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "store.Partner", related_name="services", on_delete=fields.RESTRICT
    )
    provider_id: int
    free = fields.BooleanField(default=True)
    tags: fields.Field[list[str]] = fields.JSONField(default=list)
    status = fields.CharEnumField(ServiceStatus, max_length=16, default=ServiceStatus.DRAFT, db_index=True)
    launched_on = fields.DateField(null=True)
    published_at = fields.DatetimeField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Rating summary, rewritten from the ratings table under a row lock (see cms.ratings).
    rating_count = fields.IntField(default=0)
    rating_average = fields.FloatField(default=0.0, db_index=True)
    rating_1 = fields.IntField(default=0)
    rating_2 = fields.IntField(default=0)
    rating_3 = fields.IntField(default=0)
    rating_4 = fields.IntField(default=0)
    rating_5 = fields.IntField(default=0)
    # Tracked redirects, incremented atomically with each RedirectEvent.
    redirect_count = fields.IntField(default=0, db_index=True)

    categories: fields.ReverseRelation[ServiceCategory]
    links: fields.ReverseRelation[ServiceLink]

    class Meta:
        table = "service"

    @property
    def rating_distribution(self) -> list[int]:
        return [self.rating_1, self.rating_2, self.rating_3, self.rating_4, self.rating_5]


class ServiceCategory(Model):
    """A service belongs to one or more categories, the first (position 0) being its main one."""

    id = fields.IntField(primary_key=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "store.Service", related_name="categories", on_delete=fields.CASCADE
    )
    service_id: int
    category: fields.ForeignKeyRelation[Category] = fields.ForeignKeyField(
        "store.Category", related_name="service_links", on_delete=fields.CASCADE
    )
    category_id: int
    position = fields.SmallIntField(default=0)

    class Meta:
        table = "service_category"
        unique_together = (("service", "category"),)


class ServiceLink(Model):
    """Where selecting a service sends people: its website or an app store page."""

    id = fields.IntField(primary_key=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "store.Service", related_name="links", on_delete=fields.CASCADE
    )
    service_id: int
    platform = fields.CharEnumField(Platform, max_length=32)
    url = fields.CharField(max_length=2000)

    class Meta:
        table = "service_link"
        unique_together = (("service", "platform"),)
