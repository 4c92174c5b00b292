import pandas as pd
from taskweaver.plugin import Plugin, register_plugin


@register_plugin
class AnomalyDetection(Plugin):
    def __call__(self, df: pd.DataFrame, time_col_name: str, value_col_name: str):
        df = df.copy()
        df[time_col_name] = pd.to_datetime(df[time_col_name])
        values = df[value_col_name].astype(float)
        spread = values.std() if len(values) > 1 else 0.0
        df["Is_Anomaly"] = (values - values.mean()).abs() > 2 * spread if spread else False
        return df, f"There are {int(df['Is_Anomaly'].sum())} anomalies in {len(df)} values"
