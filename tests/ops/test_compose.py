"""docker-compose.yml passes every setting vipbot knows (the image sets the rest), and nothing it does not know."""

from __future__ import annotations

from tests.test_deploy import COMPOSE, KNOWN, _dockerfile_env


def test_compose_passes_every_setting_the_image_does_not_set() -> None:
    image = set(_dockerfile_env())
    for name in ("vipbot", "migrate"):
        passed = set(COMPOSE["services"][name]["environment"])
        assert passed <= KNOWN, (name, passed - KNOWN)
        assert KNOWN - image - passed == set(), (
            name,
            "add to docker-compose.yml",
            sorted(KNOWN - image - passed),
        )
        assert not passed & image, (name, "set by the Dockerfile already", passed & image)


def test_compose_carries_the_settings_the_issue_named() -> None:
    passed = set(COMPOSE["services"]["vipbot"]["environment"])
    for variable in (
        "VIPBOT_SMTP_PORT",
        "VIPBOT_SMTP_USERNAME",
        "VIPBOT_SMTP_PASSWORD",
        "VIPBOT_SMTP_STARTTLS",
        "SLACK_APP_TOKEN",
        "MICROSOFT_APP_TYPE",
    ):
        assert variable in passed


def test_the_image_build_copies_every_file_the_package_metadata_names() -> None:
    """The wheel is built inside the image: a readme or licence file left out of the COPY fails the build."""
    import re
    import tomllib

    from bot.settings import PROJECT_ROOT
    from tests.test_deploy import DOCKERFILE

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    copied = {
        name
        for line in re.findall(r"^COPY (?!--)(.+) \S+$", DOCKERFILE, re.MULTILINE)
        for name in line.split()
    }
    for name in [project["readme"], *project.get("license-files", [])]:
        assert name in copied, name
        assert (PROJECT_ROOT / name).is_file(), name
