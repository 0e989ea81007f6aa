"""seaborn's example gallery (github.com/mwaskom/seaborn, examples/), each example wrapped in a
``plot_*`` function as its author would serve it. Bodies are the examples as published; the only
changes are marked ``# corpus:`` (data sets come from ``datasets.load_dataset``, no download).

Not named seaborn_*: FacetGrid.map treats functions from modules whose names start with
"seaborn" as its own and passes them ``ax``."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from datasets import load_dataset


def plot_anscombes_quartet():
    # mwaskom/seaborn examples/anscombes_quartet.py
    sns.set_theme(style="ticks")

    # Load the example dataset for Anscombe's quartet
    df = load_dataset("anscombe")  # corpus: sns.load_dataset

    # Show the results of a linear regression within each dataset
    sns.lmplot(
        data=df, x="x", y="y", col="dataset", hue="dataset",
        col_wrap=2, palette="muted", ci=None,
        height=4, scatter_kws={"s": 50, "alpha": 1}
    )


def plot_faceted_histogram():
    # mwaskom/seaborn examples/faceted_histogram.py
    sns.set_theme(style="darkgrid")
    df = load_dataset("penguins")  # corpus: sns.load_dataset
    return sns.displot(
        df, x="flipper_length_mm", col="species", row="sex",
        binwidth=3, height=3, facet_kws=dict(margin_titles=True),
    )


def plot_faceted_histogram_given_ax(ax):
    # mwaskom/seaborn examples/faceted_histogram.py, written as a plot taking ``ax``: displot is
    # figure-level, ignores the ax (with a warning) and draws on a figure of its own.
    sns.set_theme(style="darkgrid")
    df = load_dataset("penguins")  # corpus: sns.load_dataset
    sns.displot(
        df, x="flipper_length_mm", col="species", row="sex",
        binwidth=3, height=3, facet_kws=dict(margin_titles=True), ax=ax,
    )


def plot_grouped_barplot():
    # mwaskom/seaborn examples/grouped_barplot.py
    sns.set_theme(style="whitegrid")

    penguins = load_dataset("penguins")  # corpus: sns.load_dataset

    # Draw a nested barplot by species and sex
    g = sns.catplot(
        data=penguins, kind="bar",
        x="species", y="body_mass_g", hue="sex",
        errorbar="sd", palette="dark", alpha=.6, height=6
    )
    g.despine(left=True)
    g.set_axis_labels("", "Body mass (g)")
    g.legend.set_title("")
    return g


def plot_grouped_boxplot():
    # mwaskom/seaborn examples/grouped_boxplot.py
    sns.set_theme(style="ticks", palette="pastel")

    # Load the example tips dataset
    tips = load_dataset("tips")  # corpus: sns.load_dataset

    # Draw a nested boxplot to show bills by day and time
    sns.boxplot(x="day", y="total_bill",
                hue="smoker", palette=["m", "g"],
                data=tips)
    sns.despine(offset=10, trim=True)


def plot_hexbin_marginals():
    # mwaskom/seaborn examples/hexbin_marginals.py
    sns.set_theme(style="ticks")

    rs = np.random.RandomState(11)
    x = rs.gamma(2, size=1000)
    y = -.5 * x + rs.normal(size=1000)

    return sns.jointplot(x=x, y=y, kind="hex", color="#4CB391")


def plot_joint_kde():
    # mwaskom/seaborn examples/joint_kde.py
    sns.set_theme(style="ticks")

    # Load the penguins dataset
    penguins = load_dataset("penguins")  # corpus: sns.load_dataset

    # Show the joint distribution using kernel density estimation
    g = sns.jointplot(
        data=penguins,
        x="bill_length_mm", y="bill_depth_mm", hue="species",
        kind="kde",
    )
    return g


def plot_kde_ridgeplot():
    # mwaskom/seaborn examples/kde_ridgeplot.py
    sns.set_theme(style="white", rc={"axes.facecolor": (0, 0, 0, 0)})

    # Create the data
    rs = np.random.RandomState(1979)
    x = rs.randn(500)
    g = np.tile(list("ABCDEFGHIJ"), 50)
    df = pd.DataFrame(dict(x=x, g=g))
    m = df.g.map(ord)
    df["x"] += m

    # Initialize the FacetGrid object
    pal = sns.cubehelix_palette(10, rot=-.25, light=.7)
    g = sns.FacetGrid(df, row="g", hue="g", aspect=15, height=.5, palette=pal)

    # Draw the densities in a few steps
    g.map(sns.kdeplot, "x",
          bw_adjust=.5, clip_on=False,
          fill=True, alpha=1, linewidth=1.5)
    g.map(sns.kdeplot, "x", clip_on=False, color="w", lw=2, bw_adjust=.5)

    # passing color=None to refline() uses the hue mapping
    g.refline(y=0, linewidth=2, linestyle="-", color=None, clip_on=False)

    # Define and use a simple function to label the plot in axes coordinates
    def label(x, color, label):
        ax = plt.gca()
        ax.text(0, .2, label, fontweight="bold", color=color,
                ha="left", va="center", transform=ax.transAxes)

    g.map(label, "x")

    # Set the subplots to overlap
    g.figure.subplots_adjust(hspace=-.25)

    # Remove axes details that don't play well with overlap
    g.set_titles("")
    g.set(yticks=[], ylabel="")
    g.despine(bottom=True, left=True)
    return g


def plot_many_pairwise_correlations():
    # mwaskom/seaborn examples/many_pairwise_correlations.py
    from string import ascii_letters

    sns.set_theme(style="white")

    # Generate a large random dataset
    rs = np.random.RandomState(33)
    d = pd.DataFrame(data=rs.normal(size=(100, 26)),
                     columns=list(ascii_letters[26:]))

    # Compute the correlation matrix
    corr = d.corr()

    # Generate a mask for the upper triangle
    mask = np.triu(np.ones_like(corr, dtype=bool))

    # Set up the matplotlib figure
    f, ax = plt.subplots(figsize=(11, 9))

    # Generate a custom diverging colormap
    cmap = sns.diverging_palette(230, 20, as_cmap=True)

    # Draw the heatmap with the mask and correct aspect ratio
    sns.heatmap(corr, mask=mask, cmap=cmap, vmax=.3, center=0,
                square=True, linewidths=.5, cbar_kws={"shrink": .5})


def plot_marginal_ticks():
    # mwaskom/seaborn examples/marginal_ticks.py
    sns.set_theme(style="white", color_codes=True)
    mpg = load_dataset("mpg")  # corpus: sns.load_dataset

    # Use JointGrid directly to draw a custom plot
    g = sns.JointGrid(data=mpg, x="mpg", y="acceleration", space=0, ratio=17)
    g.plot_joint(sns.scatterplot, size=mpg["horsepower"], sizes=(30, 120),
                 color="g", alpha=.6, legend=False)
    g.plot_marginals(sns.rugplot, height=1, color="g", alpha=.6)
    return g


def plot_pairgrid_dotplot():
    # mwaskom/seaborn examples/pairgrid_dotplot.py
    sns.set_theme(style="whitegrid")

    # Load the dataset
    crashes = load_dataset("car_crashes")  # corpus: sns.load_dataset

    # Make the PairGrid
    g = sns.PairGrid(crashes.sort_values("total", ascending=False),
                     x_vars=crashes.columns[:-3], y_vars=["abbrev"],
                     height=10, aspect=.25)

    # Draw a dot plot using the stripplot function
    g.map(sns.stripplot, size=10, orient="h", jitter=False,
          palette="flare_r", linewidth=1, edgecolor="w")

    # Use the same x axis limits on all columns and add better labels
    g.set(xlim=(0, 25), xlabel="Crashes", ylabel="")

    # Use semantically meaningful titles for the columns
    titles = ["Total crashes", "Speeding crashes", "Alcohol crashes",
              "Not distracted crashes", "No previous crashes"]

    for ax, title in zip(g.axes.flat, titles):

        # Set a different title for each axes
        ax.set(title=title)

        # Make the grid horizontal instead of vertical
        ax.xaxis.grid(False)
        ax.yaxis.grid(True)

    sns.despine(left=True, bottom=True)
    return g


def plot_scatterplot_matrix():
    # mwaskom/seaborn examples/scatterplot_matrix.py
    sns.set_theme(style="ticks")

    df = load_dataset("penguins")  # corpus: sns.load_dataset
    return sns.pairplot(df, hue="species")


def plot_wide_data_lineplot():
    # mwaskom/seaborn examples/wide_data_lineplot.py
    sns.set_theme(style="whitegrid")

    rs = np.random.RandomState(365)
    values = rs.randn(365, 4).cumsum(axis=0)
    dates = pd.date_range("1 1 2016", periods=365, freq="D")
    data = pd.DataFrame(values, dates, columns=["A", "B", "C", "D"])
    data = data.rolling(7).mean()

    sns.lineplot(data=data, palette="tab10", linewidth=2.5)


def plot_multiple_ecdf():
    # mwaskom/seaborn examples/multiple_ecdf.py
    sns.set_theme(style="ticks")
    mpg = load_dataset("mpg")  # corpus: sns.load_dataset

    colors = (250, 70, 50), (350, 70, 50)
    cmap = sns.blend_palette(colors, input="husl", as_cmap=True)
    sns.displot(
        mpg,
        x="displacement", col="origin", hue="model_year",
        kind="ecdf", aspect=.75, linewidth=2, palette=cmap,
    )


def plot_scatterplot_sizes():
    # mwaskom/seaborn examples/scatterplot_sizes.py
    sns.set_theme(style="whitegrid")

    # Load the example planets dataset
    planets = load_dataset("planets")  # corpus: sns.load_dataset

    cmap = sns.cubehelix_palette(rot=-.2, as_cmap=True)
    g = sns.relplot(
        data=planets,
        x="distance", y="orbital_period",
        hue="year", size="mass",
        palette=cmap, sizes=(10, 200),
    )
    g.set(xscale="log", yscale="log")
    g.ax.xaxis.grid(True, "minor", linewidth=.25)
    g.ax.yaxis.grid(True, "minor", linewidth=.25)
    g.despine(left=True, bottom=True)
    return g


def plot_part_whole_bars():
    # mwaskom/seaborn examples/part_whole_bars.py
    sns.set_theme(style="whitegrid")

    # Initialize the matplotlib figure
    f, ax = plt.subplots(figsize=(6, 15))

    # Load the example car crash dataset
    crashes = load_dataset("car_crashes").sort_values("total", ascending=False)  # corpus: sns.load_dataset

    # Plot the total crashes
    sns.set_color_codes("pastel")
    sns.barplot(x="total", y="abbrev", data=crashes,
                label="Total", color="b")

    # Plot the crashes where alcohol was involved
    sns.set_color_codes("muted")
    sns.barplot(x="alcohol", y="abbrev", data=crashes,
                label="Alcohol-involved", color="b")

    # Add a legend and informative axis label
    ax.legend(ncol=2, loc="lower right", frameon=True)
    ax.set(xlim=(0, 24), ylabel="",
           xlabel="Automobile collisions per billion miles")
    sns.despine(left=True, bottom=True)


def plot_palette_choices():
    # mwaskom/seaborn examples/palette_choices.py
    sns.set_theme(style="white", context="talk")
    rs = np.random.RandomState(8)

    # Set up the matplotlib figure
    f, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(7, 5), sharex=True)

    # Generate some sequential data
    x = np.array(list("ABCDEFGHIJ"))
    y1 = np.arange(1, 11)
    sns.barplot(x=x, y=y1, hue=x, palette="rocket", ax=ax1)
    ax1.axhline(0, color="k", clip_on=False)
    ax1.set_ylabel("Sequential")

    # Center the data to make it diverging
    y2 = y1 - 5.5
    sns.barplot(x=x, y=y2, hue=x, palette="vlag", ax=ax2)
    ax2.axhline(0, color="k", clip_on=False)
    ax2.set_ylabel("Diverging")

    # Randomly reorder the data to make it qualitative
    y3 = rs.choice(y1, len(y1), replace=False)
    sns.barplot(x=x, y=y3, hue=x, palette="deep", ax=ax3)
    ax3.axhline(0, color="k", clip_on=False)
    ax3.set_ylabel("Qualitative")

    # Finalize the plot
    sns.despine(bottom=True)
    plt.setp(f.axes, yticks=[])
    plt.tight_layout(h_pad=2)
    return f


def plot_smooth_bivariate_kde():
    # mwaskom/seaborn examples/smooth_bivariate_kde.py
    sns.set_theme(style="white")

    df = load_dataset("penguins")  # corpus: sns.load_dataset

    g = sns.JointGrid(data=df, x="body_mass_g", y="bill_depth_mm", space=0)
    g.plot_joint(sns.kdeplot,
                 fill=True, clip=((2200, 6800), (10, 25)),
                 thresh=0, levels=100, cmap="rocket")
    g.plot_marginals(sns.histplot, color="#03051A", alpha=1, bins=25)
    return g
