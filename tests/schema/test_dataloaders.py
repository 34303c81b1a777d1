"""Lists go through DataLoaders: a page costs the same number of SQL statements whatever its size."""

from __future__ import annotations

from models.enums import Platform
from tests.factories import make_partner, make_service

PAGE = """
query($first: Int!) {
  services(first: $first, orderBy: NAME) {
    totalCount
    edges { cursor node {
      slug name kind
      categories { slug name }
      links { platform url redirectUrl }
      provider { name isPublicEmploymentService }
      rating { count average distribution { stars count } }
    } }
  }
}
"""


async def test_page_of_fifty_costs_no_more_statements_than_a_page_of_five(gql, count_statements):
    partners = [await make_partner() for _ in range(7)]
    for n in range(60):
        await make_service(
            f"s{n:02d}",
            categories=["trouver-un-emploi", "preparer-sa-candidature"][: 1 + n % 2],
            provider=partners[n % 7],
            links={
                Platform.WEB: f"https://s{n}.example.fr/",
                Platform.GOOGLE_PLAY: f"https://play.example/{n}",
            },
        )

    count_statements.statements.clear()
    small = await gql(PAGE, {"first": 5})
    small_count = len(count_statements.statements)
    count_statements.statements.clear()
    large = await gql(PAGE, {"first": 50})
    large_count = len(count_statements.statements)

    assert len(small.data["services"]["edges"]) == 5
    assert len(large.data["services"]["edges"]) == 50
    assert all(len(e["node"]["links"]) == 2 for e in large.data["services"]["edges"])
    assert large_count == small_count
    # services + count + categories + links + providers
    assert large_count <= 5, count_statements.statements
    print(f"\nSQL statements for a page of 50 services with categories, links and ratings: {large_count}")
