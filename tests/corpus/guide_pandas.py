"""pandas' visualization guide (github.com/pandas-dev/pandas, doc/source/user_guide/visualization.rst),
each example wrapped in a ``plot_*`` function. The guide seeds ``np.random`` with 123456 before
its examples and builds ``ts`` and ``df`` once at the top; here each function builds the data it
uses, the same way. Changes beyond that are marked ``# corpus:``."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from datasets import read_iris_data
from pandas.plotting import andrews_curves, autocorrelation_plot, lag_plot, parallel_coordinates, radviz, scatter_matrix


def _ts_and_df():
    # The guide's running example: a random walk and four of them in a frame.
    np.random.seed(123456)
    ts = pd.Series(np.random.randn(1000), index=pd.date_range("1/1/2000", periods=1000))
    ts = ts.cumsum()
    df = pd.DataFrame(np.random.randn(1000, 4), index=ts.index, columns=list("ABCD"))
    df = df.cumsum()
    return ts, df


def plot_series_basic():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (series_plot_basic.png)
    np.random.seed(123456)
    ts = pd.Series(np.random.randn(1000),
                   index=pd.date_range('1/1/2000', periods=1000))
    ts = ts.cumsum()

    ts.plot()


def plot_frame_basic():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (frame_plot_basic.png)
    _, df = _ts_and_df()

    plt.figure()
    df.plot()
    return plt


def plot_df_xy():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (df_plot_xy.png)
    np.random.seed(123456)
    df3 = pd.DataFrame(np.random.randn(1000, 2), columns=['B', 'C']).cumsum()
    df3['A'] = pd.Series(list(range(len(df3))))

    return df3.plot(x='A', y='B')


def plot_bar_with_axhline(ax):
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (bar_plot_ex.png), drawn on the
    # ax plotserve gives: the guide's plt.axhline() must land on that same figure.
    _, df = _ts_and_df()
    df.iloc[5].plot.bar(ax=ax)
    plt.axhline(0, color='k')


def plot_bar_stacked():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (bar_plot_stacked_ex.png)
    np.random.seed(123456)
    df2 = pd.DataFrame(np.random.rand(10, 4), columns=['a', 'b', 'c', 'd'])

    return df2.plot.bar(stacked=True)


def plot_hist_alpha():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (hist_new.png)
    np.random.seed(123456)
    df4 = pd.DataFrame({'a': np.random.randn(1000) + 1, 'b': np.random.randn(1000),
                        'c': np.random.randn(1000) - 1}, columns=['a', 'b', 'c'])

    plt.figure()
    df4.plot.hist(alpha=0.5)


def plot_frame_hist():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (frame_hist_ex.png): an array of Axes
    _, df = _ts_and_df()
    plt.figure()
    return df.diff().hist(color='k', alpha=0.5, bins=50)


def plot_grouped_hist():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (grouped_hist.png)
    np.random.seed(123456)
    data = pd.Series(np.random.randn(1000))

    return data.hist(by=np.random.randint(0, 4, 1000), figsize=(6, 4))


def plot_box_colorize():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (box_new_colorize.png)
    np.random.seed(123456)
    df = pd.DataFrame(np.random.rand(10, 5), columns=['A', 'B', 'C', 'D', 'E'])
    color = {'boxes': 'DarkGreen', 'whiskers': 'DarkOrange',
             'medians': 'DarkBlue', 'caps': 'Gray'}

    df.plot.box(color=color, sym='r+')


def plot_boxplot_by():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (box_plot_ex3.png)
    np.random.seed(123456)
    df = pd.DataFrame(np.random.rand(10, 3), columns=['Col1', 'Col2', 'Col3'])
    df['X'] = pd.Series(['A', 'A', 'A', 'A', 'A', 'B', 'B', 'B', 'B', 'B'])
    df['Y'] = pd.Series(['A', 'B', 'A', 'B', 'A', 'B', 'A', 'B', 'A', 'B'])

    plt.figure()
    bp = df.boxplot(column=['Col1', 'Col2'], by=['X', 'Y'])
    return bp


def plot_area_stacked():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (area_plot_stacked.png)
    np.random.seed(123456)
    df = pd.DataFrame(np.random.rand(10, 4), columns=['a', 'b', 'c', 'd'])

    df.plot.area()


def plot_scatter_repeated():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (scatter_plot_repeated.png)
    np.random.seed(123456)
    df = pd.DataFrame(np.random.rand(50, 4), columns=['a', 'b', 'c', 'd'])

    ax = df.plot.scatter(x='a', y='b', color='DarkBlue', label='Group 1')
    df.plot.scatter(x='c', y='d', color='DarkGreen', label='Group 2', ax=ax)
    return ax


def plot_hexbin_agg():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (hexbin_plot_agg.png)
    np.random.seed(123456)
    df = pd.DataFrame(np.random.randn(1000, 2), columns=['a', 'b'])
    df['b'] = df['b'] = df['b'] + np.arange(1000)
    df['z'] = np.random.uniform(0, 3, 1000)

    return df.plot.hexbin(x='a', y='b', C='z', reduce_C_function=np.max, gridsize=25)


def plot_pie_subplots():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (df_pie_plot.png): an array of Axes
    np.random.seed(123456)
    df = pd.DataFrame(3 * np.random.rand(4, 2),
                      index=['a', 'b', 'c', 'd'], columns=['x', 'y'])

    return df.plot.pie(subplots=True, figsize=(8, 4))


def plot_scatter_matrix():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (scatter_matrix_kde.png)
    np.random.seed(123456)
    df = pd.DataFrame(np.random.randn(1000, 4), columns=['a', 'b', 'c', 'd'])

    # corpus: diagonal='hist', not 'kde': kde needs scipy, which neither plotserve nor its tests need
    return scatter_matrix(df, alpha=0.2, figsize=(6, 6), diagonal='hist')


def plot_andrews_curves():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (andrews_curves.png)
    data = read_iris_data()  # corpus: pd.read_csv('data/iris.data')

    plt.figure()
    andrews_curves(data, 'Name')


def plot_parallel_coordinates():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (parallel_gist_rainbow.png)
    data = read_iris_data()  # corpus: pd.read_csv('data/iris.data')

    plt.figure()
    parallel_coordinates(data, 'Name', colormap='gist_rainbow')


def plot_radviz():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (radviz.png)
    data = read_iris_data()  # corpus: pd.read_csv('data/iris.data')

    plt.figure()
    return radviz(data, 'Name')


def plot_lag():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (lag_plot.png)
    np.random.seed(123456)
    plt.figure()

    spacing = np.linspace(-99 * np.pi, 99 * np.pi, num=1000)
    data = pd.Series(0.1 * np.random.rand(1000) + 0.9 * np.sin(spacing))

    lag_plot(data)


def plot_autocorrelation():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (autocorrelation_plot.png)
    np.random.seed(123456)
    plt.figure()

    spacing = np.linspace(-9 * np.pi, 9 * np.pi, num=1000)
    data = pd.Series(0.7 * np.random.rand(1000) + 0.3 * np.sin(spacing))

    return autocorrelation_plot(data)


def plot_secondary_y():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (frame_plot_secondary_y.png)
    _, df = _ts_and_df()
    plt.figure()
    ax = df.plot(secondary_y=['A', 'B'])
    ax.set_ylabel('CD scale')
    ax.right_ax.set_ylabel('AB scale')
    return ax


def plot_x_compat():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (ser_plot_suppress_context.png),
    # set for good, as a script would: pandas' plot_params outlive the plot.
    _, df = _ts_and_df()
    pd.plotting.plot_params["x_compat"] = True  # corpus: the guide's `with plot_params.use(...)`, not undone
    plt.figure()
    df.A.plot(color='r')
    df.B.plot(color='g')
    df.C.plot(color='b')


def plot_ts_after_x_compat():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (ser_plot_suppress.png): the default
    # tick labelling, whatever plot set x_compat before it.
    _, df = _ts_and_df()
    plt.figure()
    df.A.plot()


def plot_subplots_layout():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (frame_plot_subplots_layout.png)
    _, df = _ts_and_df()
    return df.plot(subplots=True, layout=(2, 3), figsize=(6, 6), sharex=False)


def plot_series_multi():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (series_plot_multi.png): a (fig, axes) pair
    _, df = _ts_and_df()
    fig, axes = plt.subplots(nrows=2, ncols=2)
    df['A'].plot(ax=axes[0, 0])
    axes[0, 0].set_title('A')
    df['B'].plot(ax=axes[0, 1])
    axes[0, 1].set_title('B')
    df['C'].plot(ax=axes[1, 0])
    axes[1, 0].set_title('C')
    df['D'].plot(ax=axes[1, 1])
    axes[1, 1].set_title('D')
    return fig, axes


def plot_errorbar_groups(fig, ax):
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (errorbar_example.png); the guide's
    # fig, ax = plt.subplots() is what plotserve passes in.
    ix3 = pd.MultiIndex.from_arrays([
        ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'],
        ['foo', 'foo', 'bar', 'bar', 'foo', 'foo', 'bar', 'bar']],
        names=['letter', 'word'])

    df3 = pd.DataFrame({'data1': [3, 2, 4, 3, 2, 4, 3, 2],
                        'data2': [6, 5, 7, 5, 4, 5, 6, 5]}, index=ix3)

    # Group by index labels and take the means and standard deviations
    # for each group
    gp3 = df3.groupby(level=('letter', 'word'))
    means = gp3.mean()
    errors = gp3.std()

    means.plot.bar(yerr=errors, ax=ax, capsize=4)


def plot_bollinger():
    # pandas-dev/pandas doc/source/user_guide/visualization.rst (bollinger.png)
    np.random.seed(123456)
    price = pd.Series(np.random.randn(150).cumsum(),
                      index=pd.date_range('2000-1-1', periods=150, freq='B'))
    ma = price.rolling(20).mean()
    mstd = price.rolling(20).std()

    plt.figure()

    plt.plot(price.index, price, 'k')
    plt.plot(ma.index, ma, 'b')
    plt.fill_between(mstd.index, ma - 2 * mstd, ma + 2 * mstd,
                     color='b', alpha=0.2)
    return plt
