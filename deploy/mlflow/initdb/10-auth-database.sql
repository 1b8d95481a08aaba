-- Runs once, when the mlflow-postgres volume is first initialised (as POSTGRES_USER, so mlflow owns it):
-- the database of MLflow's basic-auth user store, beside the tracking store (POSTGRES_DB=mlflow).
CREATE DATABASE mlflow_auth;
