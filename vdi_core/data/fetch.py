"""Download manifest artefacts with pooch (download to a temp file, hash check, atomic move)."""

from __future__ import annotations

from pathlib import Path

from ..errors import VdiError
from .manifest import Artefact, check


def fetch(art: Artefact, root: Path, *, progress: bool = True, log=print) -> Path:
    """Fetch one artefact into `root`; return its path. Already verified files are kept."""
    state, detail = check(art, root)
    if state in ("verified", "unhashed"):
        log(f"{art.name}: already present ({state})")
        return art.location(root)
    if state == "mismatch":
        raise VdiError(f"{art.name}: {detail}")
    if art.fetch == "manual":
        raise VdiError(f"{art.name} cannot be downloaded automatically: {art.instructions} "
                       f"(source: {art.urls[0]})")
    import pooch  # imported here: only fetching needs it (and requests)

    target = art.location(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    known_hash = f"sha256:{art.sha256}" if art.sha256 else None
    # Charades_v1_480.zip holds a top folder Charades_v1_480/, so extracting beside it gives
    # <root>/charades/Charades_v1_480/<id>.mp4, the folder `vdi features extract --videos` reads.
    processor = pooch.Unzip(extract_dir=str(target.parent)) if art.unpack == "zip" else None
    errors = []
    for url in art.urls:
        try:
            pooch.retrieve(url, known_hash=known_hash, fname=target.name, path=target.parent,
                           processor=processor, progressbar=progress)
            break
        except ValueError as e:  # pooch's hash mismatch; the bad download is already removed
            raise VdiError(f"{art.name}: download from {url} failed its checksum ({e}); "
                           "the source changed: report it, or fetch from another URL in the manifest") from None
        except Exception as e:  # network errors from requests; try the next mirror
            errors.append(f"{url}: {type(e).__name__}: {e}")
    else:
        raise VdiError(f"{art.name}: every URL failed ({'; '.join(errors)}); check the network "
                       f"or download by hand to {target}")
    state, detail = check(art, root)  # git-blob-only artefacts are checked here
    if state == "mismatch":
        target.unlink(missing_ok=True)
        raise VdiError(f"{art.name}: downloaded file does not match the manifest ({detail})")
    log(f"{art.name}: fetched to {target} ({state})")
    return target
