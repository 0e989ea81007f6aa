"""Plots whose titles, help, choices, defaults and errors carry markup (tests/test_security_json.py)."""

from typing import Literal


def plot_markup(ax, label: str = "</script><b>&amp;", kind: Literal["a<b", "c>d&e"] = "a<b", fail: bool = False):
    """A </script><script>alert(1)</script> & <b>title</b>.

    Args:
        label: shown as the title: </script> & <i>.
        kind: one of two choices with < > & in them.
        fail: raise an error whose message holds </script>.
    """
    if fail:
        raise ValueError(f"</script><script>alert('{label}')</script> & more")
    ax.plot([0, 1])
    ax.set_title(label)
