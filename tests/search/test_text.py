"""The French text pipeline every embedded backend indexes and queries with."""

from __future__ import annotations

import pytest

from search.text import (
    Synonyms,
    correct,
    expand,
    expand_query,
    highlight,
    normalise,
    snippet,
    stems,
    terms,
    words,
)


def test_accents_case_and_ligatures_are_normalised():
    assert normalise("Œuvre CRÉÉE à Québec") == "oeuvre creee a quebec"
    assert stems("chômage") == stems("CHOMAGE")


def test_elisions_are_removed_with_either_apostrophe():
    assert words("l'entretien d’embauche qu'il jusqu'à") == ["entretien", "embauche", "il", "a"]
    assert words("aujourd'hui") == ["aujourd", "hui"]  # not an elision


def test_stop_words_are_dropped_from_terms_only():
    assert words("lettre de motivation") == ["lettre", "de", "motivation"]
    assert terms("lettre de motivation") == ["lettre", "motivation"]


def test_query_syntax_is_a_separator():
    assert words('"cv" OR -(lettre* NEAR:x)') == ["cv", "or", "lettre", "near", "x"]
    assert words("^~@#%&*()") == []


def test_plurals_share_their_stem():
    assert stems("lettres entretiens gratuits") == stems("lettre entretien gratuit")


def test_synonyms_expand_each_position():
    assert expand_query("CV") == [{"cv", "curriculum"}]  # "curriculum vitae" has "curriculum"
    assert expand_query("curriculum vitae gratuit") == [{"cv", "curriculum"}, {"gratuit"}]
    assert expand_query("chômeur") == [{"chomag", "chomeur", "demandeur emploi", "san emploi"}]
    created, company = expand_query("créer son entreprise")
    assert {"cre", "creation"} <= created
    assert "entrepris" in company and "start up" in company


def test_a_phrase_of_the_query_is_one_position():
    assert expand_query("lettres de motivation") == [{"lettr motiv", "lettr candidatur"}]
    assert expand_query("demandeur d'emploi") == [{"chomag", "chomeur", "demandeur emploi", "san emploi"}]
    assert expand_query("entretien d'embauche") == [{"entretien", "oral recrut"}]


def test_synonym_groups_are_read_from_text():
    table = Synonyms.parse(["# comment", "", "vélo, bicyclette", "seul"])
    assert expand(["bicyclettes"], table) == [{"velo", "bicyclet"}]
    assert expand(["seul"], table) == [{"seul"}]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("entretein", "entretien"),  # two letters swapped: one typo
        ("entretient", "entretien"),
        ("motivaton", "motivation"),
        ("lettr", "lettre"),  # five letters: one typo
        ("lotre", "lotre"),  # five letters: two typos is too far
        ("cvv", "cvv"),  # too short to guess
        ("entreprise", "entreprise"),  # known words stay
        ("xyzxyzxyz", "xyzxyzxyz"),
        ("2025", "2025"),  # numbers are not typos
    ],
)
def test_typos_are_corrected_to_the_closest_word(term, expected):
    assert correct(term, ["entreprise", "entretien", "motivation", "lettre", "cv", "cva", "2024"]) == expected


def test_a_tie_goes_to_the_earlier_word():
    assert correct("salle", ["salue", "salle"]) == "salle"
    assert correct("sallr", ["salue", "salle"]) == "salle"
    assert correct("sallr", ["salle", "salue"]) == "salle"
    assert correct("salur", ["salue", "salut"]) == "salue"


def test_highlight_marks_matches_and_escapes_everything_else():
    text, shown = highlight("Créez un <i>curriculum</i> vitae & un CV.", {"curriculum", "cv"})
    assert text == "Créez un &lt;i&gt;<mark>curriculum</mark>&lt;/i&gt; vitae &amp; un <mark>CV</mark>."
    assert shown == 2


def test_snippet_prefers_the_text_showing_most_of_the_query():
    assert snippet(["Sans rapport.", "Un entretien vidéo."], {"entretien", "video"}) == (
        "Un <mark>entretien</mark> <mark>vidéo</mark>."
    )
    assert snippet(["Un entretien.", "Un entretien encore."], {"entretien"}) == "Un <mark>entretien</mark>."
    assert snippet(["", "  "], {"x"}) == ""


def test_snippet_is_about_thirty_words():
    text = " ".join(f"mot{i}" for i in range(100)) + " entretien " + " ".join(f"fin{i}" for i in range(100))
    result, _ = highlight(text, {"entretien"})
    assert result.startswith("…") and result.endswith("…")
    assert len(result.split()) <= 31
    assert "<mark>entretien</mark>" in result
