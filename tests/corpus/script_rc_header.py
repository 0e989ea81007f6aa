"""A preamble of rcParams as a project's plotting scripts start (github.com/Pat-Laub/approxbayescomp,
docs/preamble.py): its own figure size, dpi, a tight bounding box and a serif font; then plots
from matplotlib's gallery and pandas' guide that end as batch scripts do. Changes are marked
``# corpus:``."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

plt.rcParams["figure.figsize"] = (5.0, 2.0)
plt.rcParams["figure.dpi"] = 350
plt.rcParams["savefig.bbox"] = "tight"
plt.rcParams["font.family"] = "serif"
plt.rcParams["pgf.texsystem"] = "pdflatex"


def plot_simple_plot_saved():
    # matplotlib/matplotlib galleries/examples/lines_bars_and_markers/simple_plot.py
    # Data for plotting
    t = np.arange(0.0, 2.0, 0.01)
    s = 1 + np.sin(2 * np.pi * t)

    fig, ax = plt.subplots()
    ax.plot(t, s)

    ax.set(xlabel='time (s)', ylabel='voltage (mV)',
           title='About as simple as it gets, folks')
    ax.grid()

    fig.savefig("test.png", dpi=300)  # corpus: dpi=300
    plt.close(fig)  # corpus: instead of plt.show()


def plot_groupby_boxplot():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (groupby_boxplot_vis.png)
    np.random.seed(1234)
    df_box = pd.DataFrame(np.random.randn(50, 2))
    df_box['g'] = np.random.choice(['A', 'B'], size=50)
    df_box.loc[df_box['g'] == 'B', 1] += 3

    bp = df_box.groupby('g').boxplot()
    return bp  # corpus: a Series of Axes
