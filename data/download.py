#!/usr/bin/env python3
"""Download the Yelp sentiment-transfer data from the original public GitHub repositories.

    python data/download.py --out data                       # -> data/yelp/...
    python data/download.py --out data --with-outputs        # + 11 system outputs from DualRL
    python data/download.py --out /tmp/d --from-local DIR    # offline: DIR/<owner>/<repo>/<path>

It writes the same layout as ../shared/data/yelp, which every textcycle command accepts
(`--data data/yelp`):

    yelp/sentiment.{train,dev,test}.{0,1}      Shen et al. 2017 (shentianxiao/language-style-transfer)
    yelp/li2018/sentiment.{train,dev,test}.{0,1}  Li et al. 2018 (lijuncen/Sentiment-and-Style-Transfer)
    yelp/reference.{0,1}                       Li et al. human references (source<TAB>reference)
    yelp/references4/reference{0,1,2,3}.{0,1}  four references (luofuli/DualRL)
    yelp/outputs/<System>/{neg2pos,pos2neg}.txt  with --with-outputs (luofuli/DualRL outputs/yelp)

Files are fetched at pinned commits from raw.githubusercontent.com. Two repairs are applied, the
same as in ../shared/data: a missing final newline is added, and a line that is not valid UTF-8
is decoded as GBK (references4 `reference2.0` line 29 has GBK bytes for "é"). Files whose
SHA-256 is known (everything except the training splits, which ../shared/data does not hold) are
verified after the repairs. `--from-local DIR` (or `--base-url file:///...`) reads a local mirror
instead, `DIR/<owner>/<repo>/<path>`, so this script can be tested without a network.
Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

GITHUB_RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"

SHEN = ("shentianxiao/language-style-transfer", "f078a9d342705ea62b04dd3ac5926d3467c2ac63")
LI = ("lijuncen/Sentiment-and-Style-Transfer", "14a48fa3f49a5d0020083830901037a4640deab4")
DUALRL = ("luofuli/DualRL", "f412d903de683cf00ca471a1e413f916911a811c")

DUALRL_SYSTEMS = [
    "DualRL",
    "CrossAlignment_Shen",
    "StyleEmbedding_Fu",
    "Multidecoder_Fu",
    "DeleteOnly_Li",
    "DeleteRetrieve_Li",
    "TemplateBase_Li",
    "RetrieveOnly_Li",
    "BackTranslation_Pr",
    "UnpairedRL_Xu",
    "UnsuperMT_Zhang",
]

# SHA-256 of the files as they are in ../shared/data/yelp (i.e. after the repairs above)
SHA256 = {
    "sentiment.dev.0": "405ef6d4bfbc8bb92c3c55b496f315069cb5edb49ed34a07b1206341b83c344b",
    "sentiment.dev.1": "3509f6573411bbda2d5c071ed72ad276c12356c15c06205b8fdf74b217970c61",
    "sentiment.test.0": "b7466e8859e9948892a859af7938a82c801c99b69f884014082fd072a155bbf2",
    "sentiment.test.1": "a66e0ec3f0e1230ad4d2c822750a381cf6d99a99fa9b5ae79546f21ff79ed5c3",
    "li2018/sentiment.dev.0": "085ac5d10594f7a433c00c13a8cb10940a43b4a0d777d2d99b265a639fdfcfec",
    "li2018/sentiment.dev.1": "b9c49b3b9b761cdd3daa3ca554aaaf97d3f3a46b264894f483704a8d6c143f07",
    "li2018/sentiment.test.0": "29f23d6fe163a85ffe0aad31d54435bb8a65c3837767bebcd718f2c47d201cc4",
    "li2018/sentiment.test.1": "e42be2064b93be77b223e67d1ae3d297bbc6a38195017f3f195c1e3b58f72077",
    "reference.0": "a0a162722a4dcbc2d38fd9770f37d39f383777e0c545a6df5cd7ac58247d7a77",
    "reference.1": "5cc4011b1e7fdd72a3c56786a02ab2e50caf08ffd3bbd70bde854322e809f734",
    "references4/reference0.0": "102cd3dbbb082f967304b4b7ba9a10aa4739b35e8cf61eea91e5cebc5843fcf8",
    "references4/reference0.1": "64bb25a4e18dbcec18879c01298957b81f598950055c816a8d44f5fe95463f8d",
    "references4/reference1.0": "52faa88d0f4ed62d87ddaaee9945e6287a1c370cc581f0cc317a8bfc4c3b787a",
    "references4/reference1.1": "90358ef7945c1e70f8e6d96d33445f723de470fcffd57c93eb6201df20553966",
    "references4/reference2.0": "73e063928e9a65777e40d96c312290801cdc28f6591beeaec9098ac434e07efa",
    "references4/reference2.1": "d6190c22f54f6e7e0e4744d533e2d721b28602a43807762f6f7d0b3e5cf4c507",
    "references4/reference3.0": "e31a193b8853fb5d92e5d287ebfa50411874b3ca1676efd9437e0a517694a83a",
    "references4/reference3.1": "6effb1d60d23442f39bd2a324dbce4dfd8b256c2b85614ea151256cc011bcb14",
    "outputs/DualRL/neg2pos.txt": "c8938a1ebc60cafd9accb5d1656c7946d37b7abf16c32446abedbfa368da48e4",
    "outputs/DualRL/pos2neg.txt": "71c9c30ba68dd724e3b12b345e3700056d7487b95020bd4fc8de5a086a434c07",
    "outputs/CrossAlignment_Shen/neg2pos.txt": "b69ed0bf3a3142bf9861a72017b02afb2123e56357b86f5dbc9b7cadee34a81f",
    "outputs/CrossAlignment_Shen/pos2neg.txt": "776ff16519477bf7a6f0bd3d8eb5d3360aeffdcc2ea79eb529e0ae4c1e254742",
    "outputs/StyleEmbedding_Fu/neg2pos.txt": "a659084926631e499828a1c652f01638b29b4ed49e891e0c5a3767cbb9be218f",
    "outputs/StyleEmbedding_Fu/pos2neg.txt": "76cbbcff29d610391f080b831fea758b8ac91d6b4b4ebe351443ab5e492c4f2b",
    "outputs/Multidecoder_Fu/neg2pos.txt": "74eb620634897977f1b7549cfef23d3bf9ca6f1210a0d60d7e80ab3d865ccce1",
    "outputs/Multidecoder_Fu/pos2neg.txt": "029bac6c6200a2d0cf6b32462ec68539ef5414224b6c6aaf2d5ebda4d7d5072d",
    "outputs/DeleteOnly_Li/neg2pos.txt": "ab50e3167390808628076afde94f790011ae84c573903a1a65a62ff14eb3eabd",
    "outputs/DeleteOnly_Li/pos2neg.txt": "82b1764256af02349ac6221c220004b5b3f76b60cac5291e0fd3dc3ed8ed8b33",
    "outputs/DeleteRetrieve_Li/neg2pos.txt": "79a6a442f1b730880a78ee2bd39c9cd5530b73fcf03034ffb84163d074540132",
    "outputs/DeleteRetrieve_Li/pos2neg.txt": "3a638dab037bdd65eea74e8f2a3ea94c93c06c89c48d44430d37291c15a8ca46",
    "outputs/TemplateBase_Li/neg2pos.txt": "a6843537f74ed89a9dfa77a6e36735eae29b5de9e7c346dae84c09789a2d50f6",
    "outputs/TemplateBase_Li/pos2neg.txt": "3ceec2616a97365e90e2cfea60d8c2a969ca0c65c2d6e0112aedd4bc35b00ec1",
    "outputs/RetrieveOnly_Li/neg2pos.txt": "87505c5b34344023a4a3e6bfea107d20142c7a3c1676808e56ab0df2138dfc62",
    "outputs/RetrieveOnly_Li/pos2neg.txt": "579acf1cbc0b2999e5bd21b5181cc8f9ded2414aaa5cd0e70c33aca68658c6f3",
    "outputs/BackTranslation_Pr/neg2pos.txt": "2736dd0ae7e5ff490f1e3f523f97253be2c6b0b6527bd0a1e3c947f28f056d66",
    "outputs/BackTranslation_Pr/pos2neg.txt": "a8977f5a43f7e430157d30bcb2742594ceb06463a5faa6e8de2a61b6ef245535",
    "outputs/UnpairedRL_Xu/neg2pos.txt": "e8d6ecda5255072a44602e0edfc23d85d5eba68929420a60cb72beffacee84a6",
    "outputs/UnpairedRL_Xu/pos2neg.txt": "034f5217c2c66d0168421acd5536a5b7b78f754efe0b57b7d6a32cf633dbecd5",
    "outputs/UnsuperMT_Zhang/neg2pos.txt": "86a60c5cb0cf77c75cd2229abfe4aa83c413cf3845c6bc97d326d338c741c26e",
    "outputs/UnsuperMT_Zhang/pos2neg.txt": "a405bb1f2e43c7b40f876accb75fc52ecdd366685e95c701ac1e4903bf273203",
}


class DownloadError(Exception):
    pass


def file_list(with_train: bool = True, with_outputs: bool = False) -> list[dict]:
    """Every file: repo, commit, remote path, local path (under yelp/), required or optional."""
    files = []
    splits = ("train", "dev", "test") if with_train else ("dev", "test")
    for split in splits:
        for s in (0, 1):
            # the training splits are not in ../shared/data and have no pinned hash: optional
            opt = split == "train"
            files.append(
                dict(repo=SHEN, path=f"data/yelp/sentiment.{split}.{s}", local=f"sentiment.{split}.{s}", optional=opt)
            )
            files.append(
                dict(
                    repo=LI,
                    path=f"data/yelp/sentiment.{split}.{s}",
                    local=f"li2018/sentiment.{split}.{s}",
                    optional=opt,
                )
            )
    for s in (0, 1):
        files.append(dict(repo=LI, path=f"data/yelp/reference.{s}", local=f"reference.{s}", optional=False))
        for k in range(4):
            files.append(
                dict(
                    repo=DUALRL,
                    path=f"references/yelp/reference{k}.{s}",
                    local=f"references4/reference{k}.{s}",
                    optional=False,
                )
            )
    if with_outputs:
        for name in DUALRL_SYSTEMS:
            for s, d in ((0, "neg2pos"), (1, "pos2neg")):
                files.append(
                    dict(
                        repo=DUALRL,
                        path=f"outputs/yelp/{name}/test.{s}.tsf",
                        local=f"outputs/{name}/{d}.txt",
                        optional=False,
                    )
                )
    return files


def repair(data: bytes) -> bytes:
    """Add a missing final newline; decode lines that are not UTF-8 as GBK (then re-encode)."""
    if data and not data.endswith(b"\n"):
        data += b"\n"
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    lines = []
    for line in data.split(b"\n"):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            try:
                line = line.decode("gbk").encode("utf-8")
            except UnicodeDecodeError:
                raise DownloadError("a line is neither UTF-8 nor GBK") from None
        lines.append(line)
    return b"\n".join(lines)


def fetch(url: str, retries: int = 2, timeout: float = 60.0) -> bytes:
    last = None
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:  # 404 and friends: retrying will not help
            raise DownloadError(f"{url}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            last = e
            if attempt < retries:
                time.sleep(2 * (attempt + 1))
    raise DownloadError(f"{url}: {getattr(last, 'reason', last)}")


def download(
    out: str | Path,
    base_url: str = GITHUB_RAW,
    with_train: bool = True,
    with_outputs: bool = False,
    verify: bool = True,
    force: bool = False,
    log=print,
) -> dict:
    """Fetch every file into `out/yelp/`; returns {"written": [...], "skipped": [...], "failed": [...]}."""
    root = Path(out) / "yelp"
    report = {"written": [], "skipped": [], "failed": []}
    for f in file_list(with_train, with_outputs):
        dest = root / f["local"]
        if dest.exists() and not force:
            report["skipped"].append(f["local"])
            continue
        repo, commit = f["repo"]
        url = base_url.format(repo=repo, commit=commit, path=f["path"])
        try:
            data = repair(fetch(url))
            if not data.strip():
                raise DownloadError(f"{url}: empty file")
            want = SHA256.get(f["local"])
            if verify and want and hashlib.sha256(data).hexdigest() != want:
                raise DownloadError(f"{url}: SHA-256 mismatch for {f['local']} (use --no-verify to keep it)")
        except DownloadError as e:
            if f["optional"]:
                log(f"warning: skipped optional {f['local']}: {e}")
                report["failed"].append(f["local"])
                continue
            raise
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)
        report["written"].append(f["local"])
        n_lines = data.count(b"\n")
        log(f"{f['local']}  ({n_lines:,} lines)  <- {url}")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parent),
        help="folder that receives yelp/ (default: this data/ folder)",
    )
    src = ap.add_mutually_exclusive_group()
    src.add_argument(
        "--from-local", metavar="DIR", help="read DIR/<owner>/<repo>/<path> instead of GitHub (no network)"
    )
    src.add_argument(
        "--base-url", default=None, help="URL template with {repo} {commit} {path} (default: raw.githubusercontent.com)"
    )
    ap.add_argument("--no-train", action="store_true", help="skip the (large) training splits")
    ap.add_argument("--with-outputs", action="store_true", help="also the 11 system outputs in luofuli/DualRL")
    ap.add_argument("--no-verify", action="store_true", help="do not check SHA-256 sums")
    ap.add_argument("--force", action="store_true", help="download files that already exist")
    args = ap.parse_args(argv)
    if args.from_local:
        local = Path(args.from_local).resolve()
        if not local.is_dir():
            print(f"error: --from-local folder not found: {local}", file=sys.stderr)
            return 2
        base = local.as_uri() + "/{repo}/{path}"
    else:
        base = args.base_url or GITHUB_RAW
    try:
        rep = download(
            args.out,
            base,
            with_train=not args.no_train,
            with_outputs=args.with_outputs,
            verify=not args.no_verify,
            force=args.force,
        )
    except DownloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"done: {len(rep['written'])} written, {len(rep['skipped'])} already there, "
        f"{len(rep['failed'])} optional files missing; use --data {Path(args.out) / 'yelp'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
