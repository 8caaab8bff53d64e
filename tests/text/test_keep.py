"""What a rewrite must keep (text/keep.py): names found as a reader would, numbers masked and
compared as strings, names recased; on hand-checked sentences."""

from collections import Counter

from textcycle.text.keep import invented_loop, kept, loops, mask_numbers, names, numbers, quantities, recase


def test_names_are_capitalised_words_not_starting_a_sentence():
    assert names("Dr. Patel and her team made my visit on May 3 easy.") == ["Patel", "May"]
    assert names("Trader Joe's has the best snacks. The lines at JFK move fast!") == ["Joe's", "JFK"]
    assert names("I think The Capital Grille is great") == ["The", "Capital", "Grille"]
    assert names("we loved it . I would go back") == []  # "I" and sentence starts are no names


def test_numbers_are_strings_with_their_separators():
    assert numbers("Call 800-555-0199 at 6:30, pay $15.49 or $1,000 for 2") == Counter(
        {"800-555-0199": 1, "6:30": 1, "15.49": 1, "1,000": 1, "2": 1}
    )


def test_every_token_with_a_digit_is_masked_in_order():
    masked, strings = mask_numbers("call 800-555-0199 at 6:30 for _num_ on the 25th")
    assert masked == "call _num_ at _num_ for _num_ on the _num_"
    assert strings == ["800-555-0199", "6:30", "_num_", "25th"]  # a literal _num_ comes back as itself


def test_kept_counts_numbers_and_names():
    src = "trader joe 's charged me _num_ dollars"
    who = ["Joe's"]
    assert kept(src, "trader joe 's charged me only _num_ dollars", who, corpus_form=True) == (True, 1)
    assert kept(src, "trader jo charged me _num_ dollars", who, corpus_form=True) == (True, 0)
    assert kept(src, "trader joe 's charged me dollars", who, corpus_form=True) == (False, 1)
    assert kept(src, "trader joe 's charged me _num_ _num_ dollars", who, corpus_form=True)[0] is False
    # natural text: the same strings, as often, none invented; names as written
    assert kept("We paid $20 at Joe's", "We paid just $20 at Joe's", ["Joe's"]) == (True, 1)
    assert kept("We paid $20 at Joe's", "We paid $25 at joe's", ["Joe's"]) == (False, 0)
    assert kept("We paid $20", "We paid $20 for 2", []) == (False, 0)
    # a name of the whole input that is not in this piece is not asked of it
    assert kept("the food was cold", "the food was warm", ["Joe's"], corpus_form=True) == (True, 0)


def test_a_number_is_kept_with_its_unit():
    assert quantities("We waited 45 minutes, paid $20 at 6:30 pm and left at 6am with 2 friends.") == Counter(
        {("45", "minutes"): 1, ("6:30", "pm"): 1, ("6", "am"): 1, ("2", "friends"): 1}
    )  # "at" after $20 is no unit
    assert quantities("waited _num_ Minutes .") == Counter({("_num_", "minutes"): 1})
    assert quantities("等了45分鐘, room 12.") == Counter()  # only an English word after a number counts
    src = "We waited 45 minutes at Joe's"
    assert kept(src, "We only waited 45 minutes at Joe's", ["Joe's"]) == (True, 1)
    assert kept(src, "We waited 45 great at Joe's", ["Joe's"]) == (False, 1)  # the quantity lost its unit
    assert kept(src, "We waited 45 amazing minutes at Joe's", ["Joe's"]) == (False, 1)
    assert kept("it was 20 chairs", "it was 20 great chairs", [])[0] is False
    # a word after a number that is no unit may change
    assert kept("Route 9 overcharged me", "Route 9 helped me", [])[0] is True
    assert kept("waited _num_ minutes", "waited _num_ great", [], corpus_form=True)[0] is False


def test_recase_gives_names_their_source_case():
    source = "Trader Joe's is the best, fly to JFK."
    assert recase("Trader joe's is the worst, avoid jfk.", source) == "Trader Joe's is the worst, avoid JFK."
    assert recase("the may menu", "the food") == "the may menu"
    # a word the source also writes in lowercase stays as written; a name is recased as often as it occurs
    assert recase("on may 3 you may like it", "On May 3 you may like it") == "on may 3 you may like it"
    assert recase("it was it", "I loved IT, it was fine") == "it was it"
    assert recase("jfk to jfk", "JFK was fine") == "JFK to jfk"
    assert names("I'm sure I've seen Tom") == ["Tom"]


def test_no_piece_ends_at_an_abbreviation():
    from textcycle.text.textnorm import model_pieces

    text = "Dr. Patel made my visit easy. We loved it! Mr. Smith too."
    assert model_pieces(text, "en", 18) == ["Dr. Patel made my visit easy.", "We loved it!", "Mr. Smith too."]


def test_loops_are_repeated_units_a_source_does_not_have():
    assert loops("感覺會跌 噓 噓 噓 噓 噓 低調") == ["噓噓噓噓噓"]  # spaces ignored
    assert loops("誰敢罵你媽的媽的媽的習") == ["媽的媽的媽的"]
    assert loops("so good so good so good") == ["sogoodsogoodsogood"]
    # below the bar: laughter, a doubled word, punctuation
    assert loops("哈哈哈 謝謝 good good !!!! ...") == []
    assert invented_loop("跟一張跟一張", "跟一張跟一張 純噓噓噓噓") is True
    assert invented_loop("995QQQQQQQQ", "995QQQQQQQQ") is False  # the source's own run
    assert invented_loop("ㄎㄎ", "ㄎㄎㄎㄎㄎㄎㄎ") is True
    assert invented_loop("the food was cold", "the food was great great great") is True
