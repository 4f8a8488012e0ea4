import re

import pytest

from kinema.guidance import fuse_rule_based, load_prompt, map_body_parts, render_prompt
from kinema.guidance.answers import OPENINGS, check_caption
from kinema.guidance.fusion import detect_family
from kinema.guidance.prompts import KINDS

HUMAN_MOTION = ("In the video, the character's initial pose is standing with his right hand raised, palm facing the viewer and "
                "fingers spread. Subsequently, he makes a fist, swings both arms and kicks with the right foot. Finally, the "
                "person claps both hands in front of the chest.")
BIRD = "The character in the image is a small green parrot with a yellow head and a curved black beak."
DOG = "The character in the image is a ginger dog with white paws and a long tail."
FORBIDDEN_FOR_BIRDS = re.compile(r"\b(human|person|hands?|palms?|fingers?|fists?)\b", re.IGNORECASE)


def test_bird_gets_wings_and_no_human_words():
    fused = fuse_rule_based(BIRD, HUMAN_MOTION)
    assert fused.startswith("In the video, a small green parrot")
    assert "right wingtip raised" in fused and "both wings" in fused and "right claw" in fused
    assert not FORBIDDEN_FOR_BIRDS.search(fused), fused
    assert "the parrot claps both wingtips" in fused and " his " not in fused


def test_quadruped_gets_forelegs_and_hind_legs():
    fused = fuse_rule_based(DOG, HUMAN_MOTION)
    assert "right forepaw raised" in fused and "forepaw pad facing the viewer" in fused
    assert "swings both forelegs" in fused and "right hind paw" in fused and "both forepaws" in fused
    assert "dog" in fused and not re.search(r"\b(hands?|arms?|palm|person)\b", fused)


def test_legs_map_once():
    assert map_body_parts("lifts the legs and the hind legs", "quadruped") == "lifts the hind legs and the hind legs"
    assert map_body_parts("raises both arms", "bird") == "raises both wings"
    assert map_body_parts("Hands up", "bird") == "Wingtips up"


def test_same_body_is_unchanged():
    assert map_body_parts("raises the right hand", "humanoid") == "raises the right hand"
    assert map_body_parts("lifts the left foreleg", "quadruped", source="quadruped") == "lifts the left foreleg"
    person = fuse_rule_based("The character in the image is a woman in a red coat.", HUMAN_MOTION)
    assert "his right hand raised, palm facing" in person and person.startswith("In the video, a woman in a red coat.")


def test_unknown_body_uses_forelimbs():
    fused = fuse_rule_based("The character in the image is a blue jelly creature with three eyes.", HUMAN_MOTION)
    assert "swings both forelimbs" in fused and "the creature" in fused


@pytest.mark.parametrize("text, family", [("a woman holding a cat", "humanoid"), ("a cat in a human costume", "quadruped"),
                                          ("is female with long hair", "humanoid"), ("a red parrot", "bird"), ("a robot", "other")])
def test_detect_family_uses_the_first_noun(text, family):
    assert detect_family(text) == family


def test_prompts_are_versioned_and_complete():
    for kind in KINDS:
        assert load_prompt(kind, "v1") == load_prompt(kind)
    motion = render_prompt("motion", seconds="5")
    for needle in ("first 5 seconds", OPENINGS["motion"], '"Subsequently,"', '"Then,"', '"After that,"', '"Finally,"',
                   "no line breaks", "back faces"):
        assert needle in motion
    assert OPENINGS["appearance"] in render_prompt("appearance")
    fusion = render_prompt("fusion", appearance_caption="APP", motion_caption="MOT")
    assert "appearance_caption: APP" in fusion and "motion_caption: MOT" in fusion and "$" not in fusion
    assert "wings" in fusion and "forelegs" in fusion and "most prominent" in fusion
    judge = render_prompt("judge")
    assert "1 to 5" in judge and '"subject_consistency"' in judge and '"motion_consistency"' in judge
    with pytest.raises(KeyError):
        render_prompt("fusion", appearance_caption="only one")


def test_caption_check_collapses_whitespace_and_rejects_wrong_openings():
    assert check_caption("appearance", ' "The character in the image is\n a red  bird." ') == "The character in the image is a red bird."
    with pytest.raises(Exception, match="does not start"):
        check_caption("fusion", "A parrot waves.")
