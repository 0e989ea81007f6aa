"""matplotlib's customizing tutorial, its ``mpl.rc(...)`` and ``rcParams[...]`` lines a module
header (github.com/matplotlib/matplotlib, galleries/users_explain/customizing.py). Changes are
marked ``# corpus:``."""

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler

mpl.rcParams['axes.prop_cycle'] = cycler(color=['r', 'g', 'b', 'y'])
mpl.rc('lines', linewidth=4, linestyle='-.')


def plot_rc_lines():
    # matplotlib/matplotlib galleries/users_explain/customizing.py
    np.random.seed(19680801)  # corpus: the tutorial seeds once at its top
    data = np.random.randn(50)
    plt.plot(data)  # first color is red
    plt.savefig("customizing.png", bbox_inches="tight", facecolor="lightyellow")  # corpus: saved and closed
    plt.close("all")
