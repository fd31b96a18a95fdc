"""A CycloneDX 1.6 SBOM for a model target (cyclonedx-python-lib).

The SBOM names the model as a ``machine-learning-model`` component with its SHA-256,
licence and source, plus whatever the SPEC lists beside it (tokenizer, runtime,
training data). It travels as its own signed target so a site can hand it to an
auditor unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    XsUri,
)
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import LicenseExpression
from cyclonedx.output.json import JsonV1Dot6

from sovra.transfer.spec import ModelManifest, SbomComponent

_TYPES = {
    "library": ComponentType.LIBRARY,
    "data": ComponentType.DATA,
    "framework": ComponentType.FRAMEWORK,
    "machine-learning-model": ComponentType.MACHINE_LEARNING_MODEL,
    "file": ComponentType.FILE,
}


def model_sbom(name: str, version: str, sha256: str, *, manifest: ModelManifest,
               parts: Sequence[SbomComponent], built_at: datetime) -> bytes:
    """The SBOM JSON bytes for one model and the components shipped with it."""
    refs = []
    if manifest.source.startswith(("http://", "https://")):
        refs.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION,
                                      url=XsUri(manifest.source)))
    model = Component(
        name=name, version=version, type=ComponentType.MACHINE_LEARNING_MODEL,
        bom_ref=f"{name}@{version}", description=manifest.intended_use,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256)],
        licenses=[LicenseExpression(manifest.licence)], external_references=refs,
    )
    bom = Bom()
    bom.metadata.timestamp = built_at
    bom.metadata.component = model
    for part in parts:
        component = Component(
            name=part.name, version=part.version, type=_TYPES[part.type],
            bom_ref=f"{part.name}@{part.version}",
            licenses=[LicenseExpression(part.licence)] if part.licence else [])
        bom.components.add(component)
        bom.register_dependency(model, [component])
    return JsonV1Dot6(bom).output_as_string(indent=2).encode()
