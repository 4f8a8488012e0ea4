import re

import pytest

from kinema.errors import KinemaInputError
from kinema.guidance import Driving, PuppetBackend, Reference, puppet_description, triplet_description
from kinema.guidance.answers import check_caption
from kinema.guidance.puppet_scripts import SCRIPTS, motion_caption
from kinema.puppet import MOTIONS, get_preset, make_triplet

# The word of each motion that its caption must contain.
MOTION_WORDS = {"walk": "walks", "run_in_place": "running", "wave": "waves", "jump": "springs", "clap": "claps",
                "spin": "turning", "squat": "squat", "kick": "kick", "dance": "dancing", "arms_crossed": "crosses",
                "hand_sign": "victory", "idle": "still", "q_walk": "walks", "q_trot": "trots", "q_sit": "sits",
                "q_wag": "wags", "q_jump": "leaps", "q_graze": "graze", "b_flap": "flaps", "b_hop": "hops",
                "b_peck": "pecks", "b_walk": "walks"}


def triplet(mode, seed, *families):
    return make_triplet(mode, seed, get_preset("tiny", families=families, frames=5))


def test_every_puppet_motion_has_a_well_formed_caption():
    assert set(SCRIPTS) == set(MOTIONS) == set(MOTION_WORDS)
    for name in MOTIONS:
        caption = motion_caption(name)
        assert check_caption("motion", caption) == caption
        assert MOTION_WORDS[name] in caption
        assert re.search(r"\. Subsequently, .*\. Then, .*\. Finally, .*\.$", caption)


@pytest.mark.parametrize("family, seed", [("humanoid", 1), ("quadruped", 2), ("bird", 3)])
def test_captions_name_the_motion_and_the_attributes(family, seed):
    t = triplet("animate", seed, family)
    drv, ref = t.driving.labels["actors"][0], t.references[0].labels["actors"][0]
    caps = PuppetBackend().captions(Reference(labels=t.references[0].labels), Driving(labels=t.driving.labels))
    assert caps.motion == motion_caption(drv["motion"])
    assert ref["identity_description"] in caps.appearance and family in caps.appearance
    colours = [v for k, v in ref["attributes"].items() if k in ("shirt", "bottoms", "coat", "plumage", "wings", "beak")]
    assert colours and all(c in caps.fused for c in colours)
    assert MOTION_WORDS[drv["motion"]] in caps.fused and caps.fused.startswith("In the video, a")
    assert "character" not in caps.fused.split(".", 1)[1]  # the subject is named by its body, not "the character"
    # the reference's own still pose never leaks into the texts: only the driving motion is described
    assert ref["motion"] == drv["motion"] or MOTIONS[ref["motion"]].description not in caps.fused


def test_cross_family_description_maps_body_parts():
    bird = triplet("animate", 3, "bird").references[0].labels
    driving = triplet("animate", 1, "humanoid").driving.labels
    waver = driving | {"actors": [driving["actors"][0] | {"motion": "wave"}]}
    full = puppet_description(bird, waver)
    assert "right wing" in full and not re.search(r"\b(arm|hand)s?\b", full)
    assert puppet_description(bird, waver, 60).endswith("raises the right wing and waves")


@pytest.mark.parametrize("mode, seed, families", [("animate", 4, ("humanoid",)), ("replace", 5, ("humanoid",)),
                                                  ("animate", 6, ("quadruped",)), ("animate", 7, ("bird",))])
def test_short_form_fits_the_puppet_text_encoder(mode, seed, families):
    t = triplet(mode, seed, *families)
    short = triplet_description(t, max_chars=60)
    assert 20 < len(short) <= 60
    attrs = t.references[0].labels["actors"][0]["attributes"]
    main = attrs.get("shirt") or attrs.get("coat") or attrs.get("plumage")
    assert re.match(rf"an? (humanoid in an? )?{main}", short)
    assert MOTIONS[t.driving.labels["actors"][0]["motion"]].description.split(",")[0].split()[0] in short


def test_multi_describes_each_bound_subject():
    t = triplet("multi", 8, "humanoid", "bird")
    full = triplet_description(t)
    for i, k in enumerate(t.binding):
        assert t.references[k].labels["actors"][0]["identity_description"] in full
        assert motion_caption(t.driving.labels["actors"][i]["motion"]).split("Subsequently, ")[1].split(" ", 2)[2][:20] in full
    assert len(triplet_description(t, 60)) <= 60


def test_missing_labels_are_input_errors():
    with pytest.raises(KinemaInputError, match="driving"):
        PuppetBackend().motion(Driving())
    labels = triplet("animate", 1, "humanoid").driving.labels
    with pytest.raises(KinemaInputError, match="actor 3"):
        PuppetBackend().motion(Driving(labels=labels, subject=3))
    with pytest.raises(KinemaInputError, match="max_chars"):
        puppet_description(labels, labels, max_chars=3)


@pytest.mark.slow  # imports transformers (~10 s on a loaded 2-core machine)
def test_short_form_is_within_64_tokens_of_the_puppet_tokenizer():
    from kinema.backbone.components import tiny_tokenizer

    tokenizer = tiny_tokenizer(64)
    for seed, family in [(4, "humanoid"), (6, "quadruped"), (7, "bird")]:
        short = triplet_description(triplet("animate", seed, family), max_chars=60)
        ids = tokenizer(short, truncation=False).input_ids
        assert len(ids) <= 64 and tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "") == short.replace(" ", "")
