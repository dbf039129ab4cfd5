"""The few exception types the core raises for bad input, so callers can catch them by kind."""


class MTCNNInputError(ValueError):
    """Base class: some input (file, parameter, trace) is not usable; the message says why."""


class ModelFormatError(MTCNNInputError):
    """A `.dat` model file or the detector index is malformed (message names file, offset, problem)."""

    def __init__(self, path, offset, problem):
        self.path, self.offset, self.problem = str(path), offset, problem
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{self.path}{where}: {problem}")


class ImageError(MTCNNInputError):
    """An image cannot be decoded or is refused (too many pixels, empty, not an image)."""


class TraceFormatError(MTCNNInputError):
    """A trace JSON, heatmap npz or detections CSV does not follow the mtcnn-trace format."""
