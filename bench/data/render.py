"""The built-in MJSynth-style word renderer: the stand-in when no real Synth90k data is given.

It follows the synthesis pipeline of Jaderberg et al. 2014 ("Synthetic Data and Artificial
Neural Networks for Natural Scene Text Recognition", Section 2), which produced MJSynth, the
data set of the paper's Section 5.4:
  1. a word from a word list (YAWL when a path is given, as the paper uses for its graph);
  2. a font (the DejaVu, STIX and Computer Modern faces matplotlib ships), a random size and
     random kerning (extra character spacing);
  3. border or drop-shadow layer (or none) in its own colour;
  4. foreground, border and background colours, with a minimum text/background contrast;
  5. a projective distortion of the word (PIL's PERSPECTIVE transform), which also crops and
     scales the word to fill the 32 x 100 output as the real crops resized do;
  6. a background texture (blended low-frequency noise, a stand-in for natural image crops);
  7. Gaussian noise, Gaussian blur and JPEG re-encoding at a random quality.
Images are grayscale 32 x 100 in [0, 1] (the SDANN / Jaderberg input size; see mjsynth.py).
Words are lowercase a-z only, like the paper's filtered MJSynth.

Determinism: image i (its word and its pixels) comes from its own numpy Generator seeded by
(seed, i), so it is the same whatever the number of images rendered.
"""

from __future__ import annotations

import hashlib
import io
import re
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.errors import UserError
from bench.io import atomic_save, load_cached

HEIGHT, WIDTH = 32, 100
RENDER_VERSION = 1  # bump when the pipeline changes, so cached sets are re-rendered
SYSTEM_DICT = Path("/usr/share/dict/words")
_LOWER_WORD = re.compile(r"[a-z]+")
_FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmti10.ttf", "cmtt10.ttf",
)

# Used only when neither a word list nor /usr/share/dict/words is available: common English
# words (all lowercase a-z), written for this project.
BUILTIN_WORDS = tuple(sorted(set("""
about above across act action add after again against age ago agree air all allow almost
alone along already also always among amount and animal another answer any appear apple area
arm army around arrive art ask attack away baby back bad bag ball bank base basket bear beat
beautiful because become bed before begin behind believe bell below best better between big
bird black block blood blue board boat body bone book born both bottom box boy branch bread
break bright bring broad brother brown build burn business busy but buy call came camp can
capital captain car card care carry case cat catch cause cell center century certain chair
chance change character charge chart check chief child choose church circle city claim class
clean clear climb clock close cloth cloud coast coat cold collect colony color come common
company compare complete condition connect consider contain continue control cook cool copy
corn corner correct cost cotton could count country course cover cow create crop cross crowd
cry current cut dance dark daughter day dead deal dear death decide deep degree depend
describe desert design detail develop dictionary did die difference direct discuss distance
divide doctor does dog dollar done door double down draw dream dress drink drive drop dry
duck during dust duty each early earth east easy eat edge effect egg eight either electric
element else end enemy energy engine enough enter equal especially even evening event ever
every exact example except excite exercise expect experience experiment explain express eye
face fact fair fall family famous far farm fast fat father favor fear feed feel feet fell
few field fig fight figure fill final find fine finger finish fire first fish fit five flat
floor flow flower fly follow food foot force forest forget form forward found four free
fresh friend from front fruit full fun game garden gas gather gave general gentle get girl
give glad glass gold gone good got govern grass gray great green grew ground group grow
guess guide gun hair half hand happen happy hard has hat have head hear heard heart heat
heavy held help her here high hill him his history hit hold hole home hope horse hot hotel
hour house how huge human hundred hunt hurry ice idea imagine inch include indicate industry
insect instant instrument interest iron island job join joy judge jump just keep kept key
kill kind king kitchen knew knife know lady lake land language large last late laugh law lay
lead learn least leave left leg length less let letter level lie life lift light like line
liquid list listen little live locate log lone long look lost lot loud love low machine made
magnet main major make man many map mark market mass master match material matter may mean
measure meat meet melody member men metal method middle might mile milk million mind mine
minute miss modern molecule moment money month moon more morning most mother motion mount
mountain mouth move much multiply music must name nation natural nature near necessary neck
need neighbor never new next night nine noise noon north nose note nothing notice noun now
number object observe ocean off offer office often oil old once one only open operate
opposite order organ original other our out over own oxygen page paint pair paper paragraph
parent part particular party pass past path pattern pay people perhaps period person picture
piece pitch place plain plan plane planet plant play please plural poem point poor populate
port pose position possible post pound power practice prepare present press pretty print
probable problem process produce product proper property protect prove provide pull push
put quart question quick quiet quite quotient race radio rail rain raise range rather reach
read ready real reason receive record region remember repeat reply represent require rest
result rich ride right ring rise river road rock roll room root rope rose round row rub rule
run safe said sail salt same sand save saw say scale school science score sea search season
seat second section see seed seem segment select self sell send sense sentence separate serve
set settle seven several shall shape share sharp sheet shell shine ship shoe shop shore short
should shoulder shout show side sight sign silent silver similar simple since sing single
sister sit six size skill skin sky sleep slip slow small smell smile snow soft soil soldier
solution solve some son song soon sound south space speak special speech speed spell spend
spoke spot spread spring square stand star start state station stay stead steam steel step
stick still stone stood stop store story straight strange stream street stretch string
strong student study subject substance subtract success such sudden suffix sugar suggest
suit summer sun supply support sure surface surprise swim syllable symbol system table tail
take talk tall teach team teeth tell temperature ten term test than thank that the their them
then there these thick thin thing think third this those though thought thousand three
through throw thus tie time tiny tire together told tone too took tool top total touch
toward town track trade train travel tree triangle trip trouble truck true try tube turn
twenty two type under unit until upon use usual valley value vary verb very view village
visit voice vowel wait walk wall want war warm was wash watch water wave way wear weather
week weight well went were west what wheel when where whether which while white who whole
whose why wide wife wild will win wind window wing winter wire wish with woman women wonder
wood word work world would write written wrong wrote yard year yellow yes yet you young
""".split())))


def _lower_words(lines) -> tuple[str, ...]:
    """The distinct entries that are lowercase a-z only, sorted (others are dropped)."""
    return tuple(sorted({w for w in (line.strip() for line in lines) if _LOWER_WORD.fullmatch(w)}))


def load_word_list(path: Path | None) -> tuple[tuple[str, ...], str]:
    """(words, description) from a one-word-a-line file such as YAWL's word.list.

    With no path: /usr/share/dict/words when present, else BUILTIN_WORDS. Only entries made of
    lowercase a-z are kept (the paper's filter).
    """
    if path is None:
        if SYSTEM_DICT.is_file():
            text = SYSTEM_DICT.read_text(encoding="utf-8", errors="replace")
            words = _lower_words(text.splitlines())
            if words:
                return words, f"system dictionary {SYSTEM_DICT}"
        return BUILTIN_WORDS, f"built-in list of {len(BUILTIN_WORDS)} common English words"
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UserError(f"{path}: word list not found") from None
    except IsADirectoryError:
        raise UserError(f"{path}: word list is a folder, not a file of one word a line") from None
    words = _lower_words(text.splitlines())
    if not words:
        raise UserError(f"{path}: word list holds no lowercase a-z word")
    return words, f"word list {path.name}"


@lru_cache(maxsize=1)
def font_paths() -> tuple[Path, ...]:
    """The TrueType fonts matplotlib ships that the renderer draws with."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    paths = tuple(folder / name for name in _FONT_FILES if (folder / name).is_file())
    if not paths:
        raise RuntimeError(f"no fonts found in {folder}: is matplotlib installed completely?")
    return paths


@lru_cache(maxsize=512)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> tuple[float, ...]:
    """Coefficients PIL's PERSPECTIVE transform wants: maps output corners dst to input src."""
    rows = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return tuple(np.linalg.solve(np.array(rows, float), src.reshape(8)).tolist())


def _texture(rng: np.random.Generator) -> np.ndarray:
    """A background texture in [-1, 1]: blended noise at two scales (natural-ish patterns)."""
    out = np.zeros((HEIGHT, WIDTH), np.float32)
    for cells, weight in (((2, 5), rng.uniform(0, 1)), ((6, 18), rng.uniform(0, 0.6))):
        grid = rng.uniform(0, 255, cells).astype(np.uint8)
        up = Image.fromarray(grid).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
        out += weight * (np.asarray(up, np.float32) / 127.5 - 1.0)
    return out / 1.6


def _text_masks(
    word: str, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image | None, tuple[int, int, int, int]]:
    """The word's coverage mask, its border/shadow mask (or None) and the text bbox."""
    font = _font(font_paths()[rng.integers(len(font_paths()))], int(rng.integers(24, 41)))
    ascent, descent = font.getmetrics()
    spacing = rng.uniform(-0.05, 0.35) * font.size if rng.random() < 0.5 else 0.0
    advances = [font.getlength(c) for c in word]
    width = sum(advances) + spacing * (len(word) - 1)
    pad = 8
    size = (int(width) + 2 * pad, ascent + descent + 2 * pad)
    text = Image.new("L", size, 0)
    draw = ImageDraw.Draw(text)
    x = float(pad)
    for char, advance in zip(word, advances, strict=True):
        draw.text((x, pad), char, fill=255, font=font)
        x += advance + spacing
    bbox = text.getbbox() or (0, 0, size[0], size[1])
    style = rng.random()
    if style < 0.2:  # border: the text mask grown by a few pixels
        edge = text.filter(ImageFilter.MaxFilter(3 if rng.random() < 0.6 else 5))
    elif style < 0.35:  # drop shadow: the mask offset and softened
        dx, dy = rng.integers(-3, 4, 2)
        edge = Image.new("L", size, 0)
        edge.paste(text, (int(dx), int(dy)))
        edge = edge.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.5))))
    else:
        edge = None
    return text, edge, bbox


def _grey_levels(rng: np.random.Generator) -> tuple[float, float, float]:
    """(background, text, border) grey levels in [0, 255], text/background contrast >= 40."""
    while True:
        bg, fg = rng.uniform(0, 255, 2)
        if abs(bg - fg) >= 40:
            break
    border = float(rng.uniform(0, 255))
    return float(bg), float(fg), border


def render_word(word: str, rng: np.random.Generator) -> np.ndarray:
    """One word image: float32 [32, 100] in [0, 1] (the steps of the module docstring)."""
    text, edge, (x0, y0, x1, y1) = _text_masks(word, rng)
    # projective distortion: the output rectangle maps to a jittered quad around the word
    w, h = x1 - x0, y1 - y0
    margin_x, margin_y = rng.uniform(0.01, 0.08) * w, rng.uniform(0.05, 0.3) * h
    quad = np.array([[x0 - margin_x, y0 - margin_y], [x1 + margin_x, y0 - margin_y],
                     [x1 + margin_x, y1 + margin_y], [x0 - margin_x, y1 + margin_y]])
    quad += rng.normal(0, 0.04 * h, quad.shape)  # perspective and slight rotation
    quad[:, 0] += rng.normal(0, 0.12) * (quad[:, 1] - quad[:, 1].mean())  # shear (slant)
    out = np.array([[0, 0], [WIDTH, 0], [WIDTH, HEIGHT], [0, HEIGHT]], float)
    coeffs = _perspective_coeffs(out, quad)

    def warp(mask: Image.Image) -> np.ndarray:
        warped = mask.transform((WIDTH, HEIGHT), Image.Transform.PERSPECTIVE, coeffs,
                                Image.Resampling.BILINEAR)
        return np.asarray(warped, np.float32) / 255.0

    bg, fg, border = _grey_levels(rng)
    image = bg + rng.uniform(10, 60) * _texture(rng)
    if edge is not None:
        m = warp(edge)
        image = image * (1 - m) + border * m
    m = warp(text)
    image = image * (1 - m) + fg * m
    image = image + rng.normal(0, rng.uniform(0, 12), image.shape)
    pil = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    radius = rng.uniform(0, 1.2)
    if radius > 0.3:
        pil = pil.filter(ImageFilter.GaussianBlur(radius))
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=int(rng.integers(20, 96)))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("L"), np.float32) / 255.0


def image_rng(seed: int, index: int) -> np.random.Generator:
    """Image `index`'s own generator: its word and pixels do not depend on how many are made."""
    return np.random.default_rng([seed, index])


def render_set(words: tuple[str, ...], n: int, seed: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """n images of words drawn uniformly from `words`: (float32 [n, 1, 32, 100], the words)."""
    x = np.empty((n, 1, HEIGHT, WIDTH), np.float32)
    chosen = []
    for i in range(n):
        rng = image_rng(seed, i)
        word = words[rng.integers(len(words))]
        x[i, 0] = render_word(word, rng)
        chosen.append(word)
    return x, tuple(chosen)


def cached_render_set(words: tuple[str, ...], n: int, seed: int,
                      cache_dir: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """render_set, cached per (word list contents, n, seed, renderer version)."""
    digest = hashlib.sha1("\n".join(words).encode()).hexdigest()[:12]
    path = Path(cache_dir) / "rendered" / f"words-{digest}-n{n}-s{seed}-v{RENDER_VERSION}.npz"
    cached = load_cached(path, lambda obj: _valid_render_set(obj, n))
    if cached is not None:  # a torn cache file is re-rendered, never trusted
        return cached
    result = render_set(words, n, seed)
    atomic_save(result, path)
    return result


def _valid_render_set(obj: object, n: int) -> bool:
    """A cached render_set result: (float32 [n, 1, 32, 100], n words)."""
    return (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], np.ndarray)
            and obj[0].shape == (n, 1, HEIGHT, WIDTH) and isinstance(obj[1], tuple)
            and len(obj[1]) == n)
