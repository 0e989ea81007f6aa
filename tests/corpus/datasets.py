"""Small stand-ins for the data sets the snippets download (``seaborn.load_dataset``, pandas'
``data/iris.data``): the same columns, categories and dtypes, drawn from a seeded generator, so
the corpus runs without a network and gives the same picture on every run."""

import numpy as np
import pandas as pd

# Anscombe's quartet is small enough to ship as it is (Anscombe, 1973).
_ANSCOMBE_X = [10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5]
_ANSCOMBE_Y = {
    "I": [8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68],
    "II": [9.14, 8.14, 8.74, 8.77, 9.26, 8.10, 6.13, 3.10, 9.13, 7.26, 4.74],
    "III": [7.46, 6.77, 12.74, 7.11, 7.81, 8.84, 6.08, 5.39, 8.15, 6.42, 5.73],
    "IV": [6.58, 5.76, 7.71, 8.84, 8.47, 7.04, 5.25, 12.50, 5.56, 7.91, 6.89],
}


def _anscombe() -> pd.DataFrame:
    rows = []
    for dataset, ys in _ANSCOMBE_Y.items():
        xs = [8] * 7 + [19] + [8] * 3 if dataset == "IV" else _ANSCOMBE_X
        rows += [(dataset, float(x), y) for x, y in zip(xs, ys, strict=True)]
    return pd.DataFrame(rows, columns=["dataset", "x", "y"])


def _penguins() -> pd.DataFrame:
    rs = np.random.RandomState(344)
    kinds = {  # species: island, bill length, bill depth, flipper length, body mass (means)
        "Adelie": ("Torgersen", 38.8, 18.3, 190.0, 3700.0),
        "Chinstrap": ("Dream", 48.8, 18.4, 195.8, 3733.0),
        "Gentoo": ("Biscoe", 47.5, 15.0, 217.2, 5076.0),
    }
    frames = []
    for species, (island, bill, depth, flipper, mass) in kinds.items():
        n = 50
        sex = np.where(rs.rand(n) < 0.5, "Male", "Female")
        male = sex == "Male"
        frames.append(
            pd.DataFrame(
                {
                    "species": species,
                    "island": island,
                    "bill_length_mm": (bill + rs.normal(0, 2.5, n) + 2 * male).round(1),
                    "bill_depth_mm": (depth + rs.normal(0, 0.9, n) + 0.8 * male).round(1),
                    "flipper_length_mm": (flipper + rs.normal(0, 6, n) + 4 * male).round(),
                    "body_mass_g": (mass + rs.normal(0, 350, n) + 400 * male).round(-1),
                    "sex": sex,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df.loc[[3, 80], "sex"] = np.nan  # the real one has a few unknowns
    return df


def _tips() -> pd.DataFrame:
    rs = np.random.RandomState(244)
    n = 120
    total = rs.gamma(4, 5, n).round(2) + 3
    df = pd.DataFrame(
        {
            "total_bill": total,
            "tip": (total * rs.uniform(0.1, 0.2, n)).round(2),
            "sex": rs.choice(["Male", "Female"], n),
            "smoker": rs.choice(["Yes", "No"], n, p=[0.4, 0.6]),
            "day": rs.choice(["Thur", "Fri", "Sat", "Sun"], n, p=[0.25, 0.1, 0.35, 0.3]),
            "time": rs.choice(["Lunch", "Dinner"], n, p=[0.3, 0.7]),
            "size": rs.choice([1, 2, 3, 4, 5, 6], n, p=[0.05, 0.6, 0.15, 0.15, 0.03, 0.02]),
        }
    )
    # seaborn.load_dataset gives these columns as ordered categories
    for column, order in [
        ("sex", ["Male", "Female"]),
        ("smoker", ["Yes", "No"]),
        ("day", ["Thur", "Fri", "Sat", "Sun"]),
        ("time", ["Lunch", "Dinner"]),
    ]:
        df[column] = pd.Categorical(df[column], order)
    return df


def _mpg() -> pd.DataFrame:
    rs = np.random.RandomState(398)
    n = 150
    origin = rs.choice(["usa", "japan", "europe"], n, p=[0.6, 0.2, 0.2])
    cylinders = np.where(origin == "usa", rs.choice([4, 6, 8], n), rs.choice([4, 4, 6], n))
    displacement = (cylinders * 40 + rs.normal(0, 15, n)).round()
    horsepower = (displacement * 0.45 + 20 + rs.normal(0, 8, n)).round()
    weight = (displacement * 7 + 1500 + rs.normal(0, 200, n)).round()
    return pd.DataFrame(
        {
            "mpg": (45 - displacement * 0.06 + rs.normal(0, 2.5, n)).round(1),
            "cylinders": cylinders,
            "displacement": displacement,
            "horsepower": horsepower,
            "weight": weight,
            "acceleration": (22 - horsepower * 0.05 + rs.normal(0, 1.5, n)).round(1),
            "model_year": rs.randint(70, 83, n),
            "origin": origin,
            "name": [f"car {i}" for i in range(n)],
        }
    )


def _iris() -> pd.DataFrame:
    rs = np.random.RandomState(150)
    means = {"setosa": (5.0, 3.4, 1.5, 0.2), "versicolor": (5.9, 2.8, 4.3, 1.3), "virginica": (6.6, 3.0, 5.6, 2.0)}
    frames = []
    for species, centre in means.items():
        values = np.abs(np.asarray(centre) + rs.normal(0, 0.3, (50, 4)) * np.asarray([1, 0.8, 0.8, 0.5])).round(1)
        frame = pd.DataFrame(values, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
        frame["species"] = species
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _planets() -> pd.DataFrame:
    rs = np.random.RandomState(1035)
    n = 200
    method = rs.choice(["Radial Velocity", "Transit", "Imaging", "Microlensing", "Astrometry"], n, p=[0.5, 0.35, 0.07, 0.06, 0.02])
    return pd.DataFrame(
        {
            "method": method,
            "number": rs.choice([1, 1, 1, 2, 3], n),
            "orbital_period": np.round(10 ** rs.uniform(0, 4, n), 3),
            "mass": np.round(10 ** rs.uniform(-1.5, 1.2, n), 3),
            "distance": np.round(10 ** rs.uniform(0.5, 3, n), 2),
            "year": rs.randint(1989, 2015, n),
        }
    )


def _car_crashes() -> pd.DataFrame:
    rs = np.random.RandomState(51)
    abbrev = ["AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS"]
    n = len(abbrev)
    total = rs.uniform(6, 24, n).round(1)
    return pd.DataFrame(
        {
            "total": total,
            "speeding": (total * rs.uniform(0.15, 0.45, n)).round(3),
            "alcohol": (total * rs.uniform(0.2, 0.4, n)).round(3),
            "not_distracted": (total * rs.uniform(0.6, 1.0, n)).round(3),
            "no_previous": (total * rs.uniform(0.7, 0.95, n)).round(3),
            "ins_premium": rs.uniform(640, 1300, n).round(2),
            "ins_losses": rs.uniform(80, 200, n).round(2),
            "abbrev": abbrev,
        }
    )


_DATASETS = {
    "anscombe": _anscombe,
    "penguins": _penguins,
    "tips": _tips,
    "mpg": _mpg,
    "iris": _iris,
    "planets": _planets,
    "car_crashes": _car_crashes,
}


def load_dataset(name: str) -> pd.DataFrame:
    """The stand-in for ``seaborn.load_dataset(name)``."""
    return _DATASETS[name]()


def read_iris_data() -> pd.DataFrame:
    """The stand-in for pandas' ``pd.read_csv('data/iris.data')`` (columns SepalLength ... Name)."""
    iris = _iris()
    iris.columns = ["SepalLength", "SepalWidth", "PetalLength", "PetalWidth", "Name"]
    iris["Name"] = "Iris-" + iris["Name"]
    return iris
