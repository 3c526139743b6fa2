"""Product images: checked by their bytes (Pillow must decode them), stored under the data dir by content
hash, so the same picture uploaded twice is stored once and a file name cannot be guessed from a product."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import anyio.to_thread
from PIL import Image, UnidentifiedImageError

from marketplace.core.errors import Unprocessable

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Pillow's format name → (content type, file extension)
ALLOWED = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class CheckedImage:
    def __init__(self, data: bytes, content_type: str, extension: str, width: int, height: int):
        self.data = data
        self.content_type = content_type
        self.width = width
        self.height = height
        self.file_name = f"{hashlib.sha256(data).hexdigest()[:32]}.{extension}"


def _inspect(data: bytes) -> CheckedImage:
    if not data:
        raise Unprocessable("the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise Unprocessable(f"images may be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise Unprocessable("the image has too many pixels")
            probe.verify()  # reads the whole file: truncated or corrupt data fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise Unprocessable("this is not a readable image") from None
    if kind not in ALLOWED:
        raise Unprocessable(f"allowed image types: {', '.join(sorted(ALLOWED))}; got {kind}")
    content_type, extension = ALLOWED[kind]
    return CheckedImage(data, content_type, extension, width, height)


async def check_image(data: bytes) -> CheckedImage:
    return await anyio.to_thread.run_sync(_inspect, data)


def image_dir(data_dir: Path) -> Path:
    return data_dir / "images"


async def store(data_dir: Path, image: CheckedImage) -> None:
    folder = image_dir(data_dir)
    target = folder / image.file_name

    def write() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(image.data)
        os.replace(tmp, target)  # readers never see a half-written file

    await anyio.to_thread.run_sync(write)


def image_url(file_name: str) -> str:
    return f"/images/{file_name}"
