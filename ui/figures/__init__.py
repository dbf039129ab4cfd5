"""Pure builders of the app's figures and tables (numpy, PIL, plotly; never Streamlit): data in,
go.Figure / PIL image / rows out, so they are tested without a browser or a Streamlit runtime."""
