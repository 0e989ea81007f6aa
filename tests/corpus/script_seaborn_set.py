"""seaborn's horizontal boxplot example, its ``sns.set(style="ticks")`` a module header as
published (github.com/mwaskom/seaborn, examples/horizontal_boxplot.py, the version with
``sns.set``), with a figure size of its own. Changes are marked ``# corpus:``."""

import numpy as np
import seaborn as sns
import matplotlib.pyplot as plt
from datasets import load_dataset

sns.set(style="ticks")


def plot_horizontal_boxplot():
    # mwaskom/seaborn examples/horizontal_boxplot.py
    # Initialize the figure
    f, ax = plt.subplots(figsize=(7, 6))
    ax.set_xscale("log")

    # Load the example planets dataset
    planets = load_dataset("planets")  # corpus: sns.load_dataset

    # Plot the orbital period with horizontal boxes
    sns.boxplot(x="distance", y="method", data=planets,
                whis=np.inf, palette="vlag", hue="method", legend=False)  # corpus: hue, legend (seaborn 0.13)

    # Add in points to show each observation
    sns.swarmplot(x="distance", y="method", data=planets,
                  size=2, color=".3", linewidth=0)

    # Make the quantitative axis logarithmic
    ax.xaxis.grid(True)
    ax.set(ylabel="")
    sns.despine(trim=True, left=True)
    plt.savefig("horizontal_boxplot.png")  # corpus: ends as a batch script does
    plt.close()
