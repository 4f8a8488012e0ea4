"""Instructions -> plans (AniX §3.2): each category from several phrasings, unknown and substring text refused,
the plan's root motion and camera path keep the character on its anchor; the LLM option on a loopback server."""

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from kinema.errors import KinemaInputError
from kinema.guidance import LLMConfig, MalformedAnswerError
from kinema.puppet.motions import MOTIONS
from kinema.world.camera import Camera
from kinema.world.instructions import ACTIONS, CATEGORIES, RUN_SPEED, WALK_SPEED, parse_instruction, root_motion
from kinema.world.paths import AnchorBox, FollowPath, OrbitPath, StaticPath, camera_path, place_character
from tests.guidance.conftest import Step, completion, server  # noqa: F401 - server: the loopback chat fixture

PHRASINGS = [
    # (instruction, action, category, puppet motion, camera path)
    ("run forward", "run_forward", "locomotion", "run_in_place", FollowPath),
    ("The character is running forward.", "run_forward", "locomotion", "run_in_place", FollowPath),
    ("SPRINT AHEAD!", "run_forward", "locomotion", "run_in_place", FollowPath),
    ("run to the left", "run_left", "locomotion", "run_in_place", FollowPath),
    ("jog backwards", "run_backward", "locomotion", "run_in_place", FollowPath),
    ("walk to the left", "walk_left", "locomotion", "walk", FollowPath),
    ("walks slowly to the left", "walk_left", "locomotion", "walk", FollowPath),
    ("sidestep left", "walk_left", "locomotion", "walk", FollowPath),
    ("step back", "walk_backward", "locomotion", "walk", FollowPath),
    ("turn left", "turn_left", "locomotion", "walk", FollowPath),
    ("She turns to the right.", "turn_right", "locomotion", "walk", FollowPath),
    ("turn around", "turn_around", "locomotion", "walk", FollowPath),
    ("wave", "wave", "gesture", "wave", StaticPath),
    ("Wave your hand!", "wave", "gesture", "wave", StaticPath),
    ("the character waves hello", "wave", "gesture", "wave", StaticPath),
    ("say hi", "wave", "gesture", "wave", StaticPath),
    ("clap", "clap", "gesture", "clap", StaticPath),
    ("clapping his hands", "clap", "gesture", "clap", StaticPath),
    ("applaud", "clap", "gesture", "clap", StaticPath),
    ("the person spins around", "spin", "gesture", "spin", StaticPath),
    ("cross your arms", "arms_crossed", "gesture", "arms_crossed", StaticPath),
    ("kick", "kick", "gesture", "kick", StaticPath),
    ("pick up the box", "pick_up", "object_action", "squat", StaticPath),
    ("Pick the red box up.", "pick_up", "object_action", "squat", StaticPath),
    ("grab the cup", "pick_up", "object_action", "squat", StaticPath),
    ("put down the box", "put_down", "object_action", "squat", StaticPath),
    ("kick the ball", "kick_object", "object_action", "kick", StaticPath),
    ("the camera circles around the character", "orbit", "camera", "idle", OrbitPath),
    ("orbit", "orbit", "camera", "idle", OrbitPath),
    ("The camera spins around him.", "orbit", "camera", "idle", OrbitPath),
    ("rotate around the character", "orbit", "camera", "idle", OrbitPath),
    ("follow me", "follow", "camera", "walk", FollowPath),
    ("the camera follows the character", "follow", "camera", "walk", FollowPath),
]


@pytest.mark.parametrize("text, action, category, motion, path", PHRASINGS)
def test_each_category_is_understood_from_several_phrasings(text, action, category, motion, path):
    plan = parse_instruction(text)
    assert (plan.action, plan.category, plan.motion, type(plan.camera)) == (action, category, motion, path)
    assert plan.text == text


def test_every_phrase_of_the_tables_means_its_own_action_and_every_motion_exists():
    for name, action in ACTIONS.items():
        assert action.motion in MOTIONS and action.category in CATEGORIES
        for phrase in action.phrases:
            assert parse_instruction(phrase).action == name, phrase


@pytest.mark.parametrize("text, velocity, turn", [
    ("walk forward", (WALK_SPEED, 0.0), 0.0), ("run to the right", (0.0, -RUN_SPEED), 0.0),
    ("run backward", (-RUN_SPEED, 0.0), 0.0), ("turn left", (0.0, 0.0), 90.0), ("turn right", (0.0, 0.0), -90.0),
    ("wave", (0.0, 0.0), 0.0), ("follow me", (WALK_SPEED, 0.0), 0.0),
])
def test_locomotion_is_stated_as_root_velocity_and_turn(text, velocity, turn):
    plan = parse_instruction(text)
    assert plan.root_velocity == velocity and plan.turn_deg == turn


@pytest.mark.parametrize("text, obj", [("pick up the box", "box"), ("Pick the red box up.", "red box"),
                                       ("grab the cup", "cup"), ("kick the ball", "ball"), ("pick it up", None),
                                       ("kick", None), ("wave", None)])
def test_object_actions_name_their_object(text, obj):
    assert parse_instruction(text).object == obj


@pytest.mark.parametrize("text, direction", [
    ("the camera circles around the character", "counterclockwise"), ("orbit clockwise", "clockwise"),
    ("orbit counter-clockwise", "counterclockwise"), ("circle around anticlockwise", "counterclockwise"),
    ("orbit to the left", "clockwise"), ("orbit to the right", "counterclockwise"),
])
def test_orbit_direction_comes_from_the_text(text, direction):
    assert parse_instruction(text).camera.direction == direction


@pytest.mark.parametrize("text", ["make a sandwich", "unwave", "wavelength", "a clapboard house", "orbital mechanics",
                                  "runway", "turnip", "jumpsuit", "kickstarter", "outrun", "!!!", "   "])
def test_unknown_text_and_substrings_are_refused_with_what_is_understood(text):
    with pytest.raises(KinemaInputError) as err:
        parse_instruction(text)
    message = str(err.value)
    assert "not understood" in message or "is empty" in message
    for understood in ("'run forward'", "'turn left'", "'wave'", "'pick up the box'", "'follow me'",
                       "'the camera circles around the character'", *CATEGORIES):
        assert understood in message


@pytest.mark.parametrize("text, problem", [("wave and clap", "several actions (clap, wave)"),
                                           ("run forward, then turn left", "several actions (run_forward, turn_left)"),
                                           ("don't wave", "negated"), ("never run", "negated")])
def test_several_actions_or_a_negation_are_refused(text, problem):
    with pytest.raises(KinemaInputError, match=re.escape(problem)):
        parse_instruction(text)


def test_the_clip_timing_goes_into_the_camera_path_and_is_checked():
    plan = parse_instruction("wave", duration_s=2.0, fps=8.0)
    assert (plan.camera.num_frames, plan.camera.fps) == (16, 8.0)
    with pytest.raises(KinemaInputError, match="duration_s"):
        parse_instruction("wave", duration_s=0.0)


def test_root_motion_runs_along_the_heading_and_turns_on_the_spot():
    run = parse_instruction("run forward", duration_s=2.0, fps=10.0)
    positions, headings = root_motion(run, np.array([1.0, 2.0, 0.0]), heading_deg=90.0)
    np.testing.assert_allclose(positions[-1], [1.0, 2.0 + RUN_SPEED * 19 / 10, 0.0], atol=1e-12)  # +y is heading 90°
    left = root_motion(parse_instruction("walk to the left", 1.0, 10.0), np.zeros(3))[0]
    np.testing.assert_allclose(left[-1], [0.0, WALK_SPEED * 9 / 10, 0.0], atol=1e-12)  # the character's left is +y
    turn_positions, turn_headings = root_motion(parse_instruction("turn left", 1.0, 10.0), np.zeros(3), heading_deg=30.0)
    assert np.array_equal(turn_positions, np.zeros((10, 3))) and turn_headings[[0, -1]].tolist() == [30.0, 120.0]


@pytest.mark.parametrize("text", ["run to the left", "follow me", "the camera circles around the character", "clap"])
def test_a_plan_keeps_the_character_on_its_anchor_from_the_users_camera(text):
    camera = Camera.looking_at([3.0, -7.0, 2.2], [0.0, 0.0, 0.9], 128, 96)
    anchor = AnchorBox(50.0, 30.0, 80.0, 88.0)
    plan = parse_instruction(text, duration_s=3.0, fps=8.0)
    root, _ = root_motion(plan, place_character(camera, anchor), heading_deg=25.0)
    cameras = camera_path(plan.camera, camera, root)
    feet = np.concatenate([c.project(r[None])[0] for c, r in zip(cameras, root)])  # (T, 2)
    np.testing.assert_allclose(feet, np.tile(anchor.bottom_centre, (24, 1)), atol=1e-9)


def planner(server, **overrides) -> LLMConfig:
    return LLMConfig(base_url=server.url, model="planner", api_key="k", backoff_s=0.01, max_retries=0,
                     cache_dir=None, **overrides)


def test_the_llm_option_maps_its_answer_onto_the_same_plan(server):
    server.script(Step(completion(json.dumps({"action": "orbit", "orbit_direction": "clockwise"}))))
    plan = parse_instruction("the camera swoops round her the other way", duration_s=2.0, fps=8.0, llm=planner(server))
    assert (plan.action, plan.category, plan.motion) == ("orbit", "camera", "idle")
    assert plan.camera == OrbitPath(duration_s=2.0, fps=8.0, direction="clockwise")
    prompt = server.requests[0]["messages"][0]["content"]
    assert server.requests[0]["model"] == "planner" and "the camera swoops round her the other way" in prompt
    assert all(name in prompt for name in ACTIONS) and '"additionalProperties": false' in prompt
    server.script(Step(completion('```json\n{"action": "run_forward", "object": "nothing"}\n```')))
    plan = parse_instruction("dash off", llm=planner(server))
    assert plan == replace(parse_instruction("run forward"), text="dash off")  # the object of a run is dropped


def test_the_llm_keeps_an_object_action_s_object(server):
    server.script(Step(completion(json.dumps({"action": "pick_up", "object": "the lantern"}))))
    plan = parse_instruction("fetch the lantern", llm=planner(server))
    assert (plan.action, plan.category, plan.motion, plan.object) == ("pick_up", "object_action", "squat", "the lantern")


@pytest.mark.parametrize("answer", [json.dumps({"action": "backflip"}), json.dumps({"action": "wave", "motion": "backflip"}),
                                    json.dumps({"action": "orbit", "orbit_direction": "upward"}), "wave",
                                    json.dumps(["wave"]), json.dumps({"action": "pick_up", "object": 3})])
def test_the_llm_cannot_invent_motions_or_fields(server, answer):
    server.script(Step(completion(answer)))
    with pytest.raises(MalformedAnswerError):
        parse_instruction("do a backflip", llm=planner(server))


def test_an_instruction_the_llm_does_not_understand_is_refused_with_the_list(server):
    server.script(Step(completion(json.dumps({"action": "unknown"}))))
    with pytest.raises(KinemaInputError, match="language model planner.*'run forward'"):
        parse_instruction("recite a poem", llm=planner(server))
