from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import PartnerKind, Platform, RedirectSource, ServiceKind, ServiceStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Category',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=80)),
                ('name', fields.CharField(max_length=120)),
                ('description', fields.TextField(unique=False)),
                ('position', fields.SmallIntField()),
            ],
            options={'table': 'category', 'app': 'store', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Partner',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=80)),
                ('name', fields.CharField(max_length=120)),
                ('kind', fields.CharEnumField(description='PUBLIC_EMPLOYMENT_SERVICE: public_employment_service\nSTARTUP: startup\nLARGE_COMPANY: large_company\nTRAINING_BODY: training_body\nPUBLIC_ORGANISATION: public_organisation\nASSOCIATION: association\nINDEPENDENT: independent', enum_type=PartnerKind, max_length=32)),
                ('website', fields.CharField(null=True, max_length=2000)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'partner', 'app': 'store', 'pk_attr': 'id', 'table_description': 'Who provides a service: a partner organisation or the public employment service itself.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Service',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=80)),
                ('name', fields.CharField(max_length=120)),
                ('sort_name', fields.CharField(db_index=True, max_length=120)),
                ('short_description', fields.CharField(max_length=300)),
                ('long_description', fields.TextField(unique=False)),
                ('kind', fields.CharEnumField(db_index=True, description='WEBSITE: website\nMOBILE_APP: mobile_app\nMOOC: mooc\nELEARNING_GAME: elearning_game\nINTERVIEW_SIMULATOR: interview_simulator\nQUIZ: quiz\nJOB_BOARD: job_board\nCV_BUILDER: cv_builder\nJOB_FAIR: job_fair\nCOMPANY_SEARCH: company_search\nTOOL: tool', enum_type=ServiceKind, max_length=32)),
                ('provider', fields.ForeignKeyField('store.Partner', source_field='provider_id', db_constraint=True, to_field='id', related_name='services', on_delete=OnDelete.RESTRICT)),
                ('free', fields.BooleanField(default=True)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=ServiceStatus.DRAFT, db_index=True, description='DRAFT: draft\nPUBLISHED: published\nARCHIVED: archived', enum_type=ServiceStatus, max_length=16)),
                ('launched_on', fields.DateField(null=True)),
                ('published_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('rating_count', fields.IntField(default=0)),
                ('rating_average', fields.FloatField(default=0.0, db_index=True)),
                ('rating_1', fields.IntField(default=0)),
                ('rating_2', fields.IntField(default=0)),
                ('rating_3', fields.IntField(default=0)),
                ('rating_4', fields.IntField(default=0)),
                ('rating_5', fields.IntField(default=0)),
                ('redirect_count', fields.IntField(default=0, db_index=True)),
            ],
            options={'table': 'service', 'app': 'store', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Rating',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('service', fields.ForeignKeyField('store.Service', source_field='service_id', db_constraint=True, to_field='id', related_name='ratings', on_delete=OnDelete.CASCADE)),
                ('voter', fields.CharField(max_length=80)),
                ('stars', fields.SmallIntField()),
                ('comment', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'rating', 'app': 'store', 'unique_together': (('service', 'voter'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RedirectEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('service', fields.ForeignKeyField('store.Service', source_field='service_id', db_constraint=True, to_field='id', related_name='redirects', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharEnumField(description='WEB: web\nAPP_STORE: app_store\nGOOGLE_PLAY: google_play\nMICROSOFT_STORE: microsoft_store\nBLACKBERRY_WORLD: blackberry_world', enum_type=Platform, max_length=32)),
                ('source', fields.CharEnumField(description='CATALOGUE: catalogue\nSEARCH: search\nRECOMMENDATION: recommendation\nARTICLE: article\nDIRECT: direct', enum_type=RedirectSource, max_length=32)),
                ('source_ref', fields.CharField(null=True, db_index=True, max_length=64)),
                ('visitor', fields.CharField(null=True, max_length=80)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'redirect_event', 'app': 'store', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ServiceCategory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('service', fields.ForeignKeyField('store.Service', source_field='service_id', db_constraint=True, to_field='id', related_name='categories', on_delete=OnDelete.CASCADE)),
                ('category', fields.ForeignKeyField('store.Category', source_field='category_id', db_constraint=True, to_field='id', related_name='service_links', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField(default=0)),
            ],
            options={'table': 'service_category', 'app': 'store', 'unique_together': (('service', 'category'),), 'pk_attr': 'id', 'table_description': 'A service belongs to one or more categories, the first (position 0) being its main one.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ServiceLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('service', fields.ForeignKeyField('store.Service', source_field='service_id', db_constraint=True, to_field='id', related_name='links', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharEnumField(description='WEB: web\nAPP_STORE: app_store\nGOOGLE_PLAY: google_play\nMICROSOFT_STORE: microsoft_store\nBLACKBERRY_WORLD: blackberry_world', enum_type=Platform, max_length=32)),
                ('url', fields.CharField(max_length=2000)),
            ],
            options={'table': 'service_link', 'app': 'store', 'unique_together': (('service', 'platform'),), 'pk_attr': 'id', 'table_description': 'Where selecting a service sends people: its website or an app store page.'},
            bases=['Model'],
        ),
    ]
