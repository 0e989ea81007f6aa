"""scikit-learn's confusion matrix example (github.com/scikit-learn/scikit-learn,
examples/model_selection/plot_confusion_matrix.py), returning its display. Changes are marked
``# corpus:``."""

import matplotlib.pyplot as plt
import numpy as np
from sklearn import datasets, svm
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

np.set_printoptions(precision=2)


def plot_confusion_matrix_display():
    # scikit-learn/scikit-learn examples/model_selection/plot_confusion_matrix.py
    # import some data to play with
    iris = datasets.load_iris()
    X = iris.data
    y = iris.target
    class_names = iris.target_names

    # Split the data into a training set and a test set
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

    # Run classifier, using a model that is too regularized (C too low) to see
    # the impact on the results
    classifier = svm.SVC(kernel="linear", C=0.01).fit(X_train, y_train)

    disp = ConfusionMatrixDisplay.from_estimator(
        classifier,
        X_test,
        y_test,
        display_labels=class_names,
        cmap=plt.cm.Blues,
        normalize="true",
    )
    disp.ax_.set_title("Normalized confusion matrix")
    return disp  # corpus: the display, not plt.show()
