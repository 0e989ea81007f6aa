"""matplotlib's ggplot style sheet example, its ``plt.style.use`` a module header as published
(github.com/matplotlib/matplotlib, galleries/examples/style_sheets/ggplot.py). Changes are
marked ``# corpus:``."""

import matplotlib.pyplot as plt
import numpy as np

plt.style.use('ggplot')


def plot_ggplot_sheet():
    # matplotlib/matplotlib galleries/examples/style_sheets/ggplot.py
    # Fixing random state for reproducibility
    np.random.seed(19680801)  # corpus: in the function, so each call draws the same

    fig, axs = plt.subplots(ncols=2, nrows=2)
    ax1, ax2, ax3, ax4 = axs.flat

    # scatter plot (Note: `plt.scatter` doesn't use default colors)
    x, y = np.random.normal(size=(2, 200))
    ax1.plot(x, y, 'o')

    # sinusoidal lines with colors from default color cycle
    L = 2*np.pi
    x = np.linspace(0, L)
    ncolors = len(plt.rcParams['axes.prop_cycle'])
    shift = np.linspace(0, L, ncolors, endpoint=False)
    for s in shift:
        ax2.plot(x, np.sin(x + s), '-')
    ax2.margins(0)

    # bar graphs
    x = np.arange(5)
    y1, y2 = np.random.randint(1, 25, size=(2, 5))
    width = 0.25
    ax3.bar(x, y1, width)
    ax3.bar(x + width, y2, width,
            color=list(plt.rcParams['axes.prop_cycle'])[2]['color'])
    ax3.set_xticks(x + width, labels=['a', 'b', 'c', 'd', 'e'])

    # circles with colors from default color cycle
    for i, color in enumerate(plt.rcParams['axes.prop_cycle']):
        xy = np.random.normal(size=2)
        ax4.add_patch(plt.Circle(xy, radius=0.3, color=color['color']))
    ax4.axis('equal')
    ax4.margins(0)

    plt.show()
    plt.close()  # corpus: a script that shows its figure, then closes it
