"""matplotlib's basic animated line plot (github.com/matplotlib/matplotlib,
galleries/examples/animation/simple_anim.py), returning its animation. Changes are marked
``# corpus:``."""

import matplotlib.pyplot as plt
import numpy as np

import matplotlib.animation as animation


def plot_simple_anim():
    # matplotlib/matplotlib galleries/examples/animation/simple_anim.py
    fig, ax = plt.subplots()

    x = np.arange(0, 2*np.pi, 0.01)
    line, = ax.plot(x, np.sin(x))

    def animate(i):
        line.set_ydata(np.sin(x + i / 50))  # update the data.
        return line,

    ani = animation.FuncAnimation(
        fig, animate, interval=20, blit=True, save_count=50)
    return ani  # corpus: the animation, not plt.show()
