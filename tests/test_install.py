"""A fresh machine: the installed package serves the demo, and start-up problems are one line."""

import io
import os
import shutil
import subprocess
import sys
import textwrap
import venv

import pytest
from conftest import ROOT
from PIL import Image

EXAMPLE_PLOTS = ["heatmap", "histogram", "scatter", "spectrum", "training", "wave"]


def run(args, cwd, env=None, timeout=120) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "BROWSER")}
    environment.update(env or {})
    return subprocess.run(args, cwd=cwd, env=environment, capture_output=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """plotserve installed from a wheel built out of this checkout (not editable), in a folder of its own."""
    # A copy without build/ or egg-info: setuptools would reuse what an earlier build left there.
    checkout = tmp_path_factory.mktemp("checkout") / "plotserve"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    build = tmp_path_factory.mktemp("wheel")
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(build), str(checkout)], check=True, capture_output=True)
    (wheel,) = build.glob("plotserve-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    return target


def test_the_wheel_carries_the_examples(installed):
    assert sorted(path.name for path in (installed / "plotserve_examples").glob("*.py")) == [
        "__init__.py",
        "gallery.py",
        "training.py",
        "waves.py",
    ]


@pytest.mark.parametrize("command", ["script", "module"])
def test_installed_command_lists_the_demo_from_any_folder(installed, tmp_path, command):
    args = [str(installed / "bin" / "plotserve")] if command == "script" else [sys.executable, "-m", "plotserve"]
    done = run([*args, "--list"], cwd=tmp_path, env={"PYTHONPATH": str(installed)})
    assert done.returncode == 0, done.stderr.decode()
    listed = [line.split()[0] for line in done.stdout.decode().splitlines() if line.startswith("/")]
    assert listed == [f"/{name}" for name in EXAMPLE_PLOTS]


def test_installed_command_renders_the_demo(installed, tmp_path):
    located = run(
        [sys.executable, "-c", "import plotserve; print(plotserve.__file__); print(plotserve.examples_dir())"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed)},
    )
    module, examples = located.stdout.decode().split()
    assert module.startswith(str(installed)) and examples == str(installed / "plotserve_examples")
    done = run([str(installed / "bin" / "plotserve"), "--get", "/training.png"], cwd=tmp_path, env={"PYTHONPATH": str(installed)})
    assert done.returncode == 0, done.stderr.decode()
    image = Image.open(io.BytesIO(done.stdout))
    assert image.format == "PNG" and image.size == (800, 500)


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A Python with nothing installed: the double-click case."""
    folder = tmp_path_factory.mktemp("bare")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(folder)
    return str(folder / "bin" / "python")


@pytest.mark.parametrize("args", [["plotserve.py"], ["-m", "plotserve"], ["plotserve.py", "--list"]])
def test_no_matplotlib_is_one_line_saying_what_to_install(bare_python, args):
    done = run([bare_python, *args], cwd=ROOT)
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert "matplotlib is not installed" in lines[0] and "pip install matplotlib pandas plac" in lines[0]


@pytest.mark.parametrize("args", [["--list"], ["--no-browser", "--port", "0"], ["--get", "/a.png"]])
def test_syntax_error_is_one_line_with_file_and_line(tmp_path, args):
    source = tmp_path / "broken.py"
    source.write_text("import math\n\n\ndef plot_a(ax):\n    ax.plot([1, 2]\n\n\nx = 1\n")
    done = run([sys.executable, str(ROOT / "plotserve.py"), str(source), *args], cwd=tmp_path, timeout=60)
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"plotserve: {source}:5: SyntaxError:"), lines[0]


def test_import_error_names_the_line_that_failed(tmp_path):
    source = tmp_path / "needs.py"
    source.write_text(
        textwrap.dedent("""\
        import math

        import no_such_package_here


        def plot_a(ax):
            ax.plot([1, 2])
        """)
    )
    done = run([sys.executable, str(ROOT / "plotserve.py"), str(source), "--list"], cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.decode().strip() == (f"plotserve: {source}:3: ModuleNotFoundError: No module named 'no_such_package_here'")


def test_unknown_module_says_so(tmp_path):
    done = run([sys.executable, str(ROOT / "plotserve.py"), "no_such_plots_module", "--list"], cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.decode().strip() == "plotserve: no such plot file or module: no_such_plots_module"


def test_a_source_without_plots_is_named_at_start_up(tmp_path):
    empty = tmp_path / "helpers.py"
    empty.write_text("def draw(ax):\n    ax.plot([1, 2])\n")
    full = tmp_path / "real.py"
    full.write_text("def plot_line(ax):\n    ax.plot([1, 2])\n")
    done = run([sys.executable, str(ROOT / "plotserve.py"), str(empty), str(full), "--list"], cwd=tmp_path)
    assert done.returncode == 0
    assert (
        done.stderr.decode().strip()
        == f"plotserve: {empty} has no plot_* functions (nor PlotRequestHandler subclasses with plot_* methods)"
    )
    assert done.stdout.decode().startswith("/line")


def test_every_package_the_tests_import_is_declared():
    """An import in tests/ that setup.cfg does not declare passes here and fails on a fresh machine."""
    import ast
    import configparser
    import importlib.metadata
    import re

    imported = set()
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.partition(".")[0])
    local = {path.stem for path in ROOT.glob("*.py")} | {path.stem for path in (ROOT / "plots").glob("*.py")}
    local |= {path.stem for path in (ROOT / "tests").rglob("*.py")}
    third_party = sorted(imported - local - set(sys.stdlib_module_names))
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    requirements = config["options"]["install_requires"] + config["options.extras_require"]["test"]

    def normal(name: str) -> str:
        return name.lower().replace("_", "-")

    declared = {normal(re.split(r"[<>=!~\[; ]", line.strip())[0]) for line in requirements.split("\n") if line.strip()}
    owners = importlib.metadata.packages_distributions()  # import name -> the distributions that provide it
    undeclared = {name: owners.get(name) for name in third_party if not {normal(d) for d in owners.get(name, [])} & declared}
    assert not undeclared, f"the tests import these, but setup.cfg's test extra does not declare them: {undeclared}"
