from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('store', '0003_search_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='QuestionnaireVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.IntField(unique=True)),
                ('content', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by', fields.ForeignKeyField('store.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='questionnaire_versions', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'questionnaire_version', 'app': 'store', 'pk_attr': 'id', 'table_description': 'A full snapshot of the questionnaire. An edit makes a new version, never changes an old one.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Recommendation',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('questionnaire_version', fields.ForeignKeyField('store.QuestionnaireVersion', source_field='questionnaire_version_id', db_constraint=True, to_field='id', related_name='recommendations', on_delete=OnDelete.RESTRICT)),
                ('model_version', fields.CharField(max_length=64)),
                ('answers', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('visitor', fields.CharField(null=True, db_index=True, max_length=80)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'recommendation', 'app': 'store', 'pk_attr': 'id', 'table_description': 'What one anonymous visitor answered and the services they were shown, in order.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecommendationItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('recommendation', fields.ForeignKeyField('store.Recommendation', source_field='recommendation_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('service', fields.ForeignKeyField('store.Service', source_field='service_id', db_constraint=True, to_field='id', related_name='recommended', on_delete=OnDelete.CASCADE)),
                ('rank', fields.SmallIntField()),
                ('score', fields.FloatField()),
                ('reason', fields.CharField(max_length=200)),
            ],
            options={'table': 'recommendation_item', 'app': 'store', 'unique_together': (('recommendation', 'rank'), ('recommendation', 'service')), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
