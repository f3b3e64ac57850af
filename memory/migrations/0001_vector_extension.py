"""pgvector in the product's database: Mem0's memory table stores embeddings as `vector`."""

from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [VectorExtension()]
