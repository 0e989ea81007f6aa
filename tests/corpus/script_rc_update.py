"""matplotlib's customize_rc example, its ``plt.rcParams.update({...})`` a module header
(github.com/matplotlib/matplotlib, galleries/examples/misc/customize_rc.py). Changes are marked
``# corpus:``."""

import matplotlib.pyplot as plt

# the axes attributes need to be set before the call to subplot
plt.rcParams.update({
    "font.weight": "bold",
    "xtick.major.size": 5,
    "xtick.major.pad": 7,
    "xtick.labelsize": 15,
    "grid.color": "0.5",
    "grid.linestyle": "-",
    "grid.linewidth": 5,
    "lines.linewidth": 2,
    "lines.color": "g",
})


def plot_customize_rc():
    # matplotlib/matplotlib galleries/examples/misc/customize_rc.py
    plt.figure(figsize=(6, 6))  # corpus: a size of its own
    plt.subplot(312)
    plt.plot([1, 2, 3])
    plt.grid(True)
    plt.show()
    plt.close()  # corpus: shown, then closed
