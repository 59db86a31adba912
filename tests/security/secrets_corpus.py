"""Test data for secret redaction: fake but realistic secrets of every family, in every form people paste them, and
ordinary fine-tuning log/config lines that must come out of redaction unchanged.

Every value is generated here from a fixed seed with the real shape and length of its family (prefix, alphabet,
separators), so the file itself holds no literal token that a secret scanner would flag, and nothing in it is a
working credential.

SECRETS: list of `Secret(family, form, text, values)`. `text` is what a user pastes (one line, or a few lines for a
PEM block or a netrc file); `values` are the strings that must not survive redaction.
BENIGN: lines that must come out byte-identical.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

_RNG = random.Random(20240611)
ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"


def _fake(alphabet: str, n: int) -> str:
    """Random characters that contain every class of the alphabet (so a value looks like the real thing)."""
    while True:
        value = "".join(_RNG.choice(alphabet) for _ in range(n))
        classes = [c for c in (string.ascii_uppercase, string.ascii_lowercase, string.digits) if set(c) & set(alphabet)]
        if n < 8 or all(set(value) & set(c) for c in classes):
            return value


def _b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _uuid() -> str:
    h = _fake(HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _jwt() -> str:
    header = _b64url({"alg": "HS256", "typ": "JWT"})
    payload = _b64url({"sub": _fake(LOWER_ALNUM, 12), "iat": 1718000000 + _RNG.randrange(10**6),
                       "scope": "read:models write:runs"})
    return f"{header}.{payload}.{_fake(B64URL, 43)}"


def _pem(label: str, lead: str, lines: int = 6) -> tuple[str, list[str]]:
    body = [lead + _fake(B64, 64 - len(lead))] + [_fake(B64, 64) for _ in range(lines - 2)] + [_fake(B64, 37) + "="]
    return f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----", body


# ------------------------------------------------------------------ values (fake, right shape and length)

HF = "hf_" + _fake(ALNUM, 34)
HF_2 = "hf_" + _fake(ALNUM, 34)
HF_ORG = "api_org_" + _fake(ALNUM, 34)
OPENAI = "sk-proj-" + _fake(ALNUM + "_-", 64)
ANTHROPIC = "sk-ant-api03-" + _fake(ALNUM + "_-", 93) + "AA"
GITHUB = "ghp_" + _fake(ALNUM, 36)
GITHUB_PAT = "github_pat_" + _fake(ALNUM, 22) + "_" + _fake(ALNUM, 59)
AWS_ID = "AKIA" + _fake(string.ascii_uppercase + string.digits, 16)
AWS_SECRET = _fake(ALNUM + "/+", 40)
WANDB = _fake(HEX, 40)
WANDB_2 = _fake(HEX, 40)
JWT = _jwt()
BASIC = base64.b64encode(b"trainer:" + _fake(ALNUM, 18).encode()).decode()
URL_PASSWORD = _fake(ALNUM, 8) + "!" + _fake(ALNUM, 7)
DB_PASSWORD = _fake(ALNUM, 20)
URL_TOKEN = _fake(ALNUM + "-_", 32)
URL_ACCESS_TOKEN = _fake(ALNUM, 40)
S3_SIGNATURE = _fake(HEX, 64)
MODELSCOPE = _uuid()
COMET = _fake(ALNUM, 25)
SWANLAB = _fake(ALNUM, 21)
NEPTUNE = base64.b64encode(json.dumps({"api_address": "https://app.neptune.ai", "api_url": "https://app.neptune.ai",
                                       "api_key": _uuid()}).encode()).decode()
SLACK_BOT = f"xoxb-{_fake(string.digits, 12)}-{_fake(string.digits, 13)}-{_fake(ALNUM, 24)}"
SLACK_USER = f"xoxp-{_fake(string.digits, 12)}-{_fake(string.digits, 12)}-{_fake(string.digits, 13)}-{_fake(HEX, 32)}"
SLACK_SIGNING = _fake(HEX, 32)
UPPER_DIGITS = string.ascii_uppercase + string.digits
SLACK_HOOK_PATH = f"T{_fake(UPPER_DIGITS, 10)}/B{_fake(UPPER_DIGITS, 10)}/{_fake(ALNUM, 24)}"
PASSWORD = "Tr0ub4dor&" + _fake(ALNUM, 6)
LOWER_KEY = "ak_live_f" + _fake(LOWER_ALNUM, 23)
AZURE_KEY = _fake(B64, 86) + "=="
PASSPHRASE = "correct horse battery staple"
SPACED_KEY = "a b c"
SPACED_PASSPHRASE = "open sesame " + _fake(LOWER_ALNUM, 6) + " tulips"
RSA_KEY, RSA_BODY = _pem("RSA PRIVATE KEY", "MIIEpAIBAAKCAQEA", 8)
PKCS8_KEY, PKCS8_BODY = _pem("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 7)
OPENSSH_KEY, OPENSSH_BODY = _pem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", 5)
EC_KEY, EC_BODY = _pem("EC PRIVATE KEY", "MHcCAQEEI", 3)


@dataclass(frozen=True)
class Secret:
    family: str
    form: str
    text: str
    values: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.family}/{self.form}"


SECRETS: list[Secret] = []


def _add(family: str, form: str, text: str, *values: str) -> None:
    SECRETS.append(Secret(family, form, text, tuple(values)))


def _family(family: str, value: str, *, env: str, flag: str, key: str, url: str | None, prose: str,
            quoted: bool = True) -> None:
    """One family in every form: env, CLI flag, YAML, JSON, URL and prose."""
    _add(family, "env-export", f"export {env}={value}", value)
    _add(family, "env-inline", f"{env}={value} python src/train.py --stage sft --bf16", value)
    _add(family, "env-quoted", f'export {env}="{value}"', value)
    _add(family, "cli-space", f"python train.py --model_name_or_path Qwen/Qwen2.5-7B --{flag} {value} --bf16 true",
         value)
    _add(family, "cli-equals", f"accelerate launch train.py --{flag}={value} --output_dir saves/lora", value)
    _add(family, "yaml", f"{key}: {value}", value)
    if quoted:
        _add(family, "yaml-quoted", f'  {key}: "{value}"', value)
        _add(family, "yaml-single-quoted", f"{key}: '{value}'", value)
    _add(family, "json", json.dumps({"report_to": "wandb", key: value, "bf16": True}), value)
    _add(family, "python-kwarg", f'trainer = Trainer(model=model, args=args)  # login(token="{value}")', value)
    if url:
        _add(family, "url", url.format(value), value)
    _add(family, "prose", prose.format(value), value)


_family("hf-token", HF, env="HF_TOKEN", flag="hub_token", key="hub_token",
        url="git clone https://user:{}@huggingface.co/meta-llama/Llama-3.1-8B", prose="my token is {} but it fails")
_family("hf-token-hub-env", HF_2, env="HUGGING_FACE_HUB_TOKEN", flag="hf_token", key="hf_token",
        url="https://huggingface.co/api/whoami-v2?token={}", prose="I used huggingface-cli login with {}")
_add("hf-token", "cli-token-flag", f"huggingface-cli login --token {HF} --add-to-git-credential", HF)
_add("hf-token", "cli-token-flag-env", f"HF_ENDPOINT=https://hf-mirror.com huggingface-cli download --token {HF_2} "
     "Qwen/Qwen2-7B", HF_2)
_add("hf-token", "org-token", f"use_auth_token='{HF_ORG}'", HF_ORG)
_family("openai-key", OPENAI, env="OPENAI_API_KEY", flag="openai_api_key", key="openai_api_key",
        url="https://api.openai.com/v1/models?api_key={}", prose="my openai key is {}, is it revoked?")
_add("anthropic-key", "env", f"ANTHROPIC_API_KEY={ANTHROPIC}", ANTHROPIC)
_family("github-token", GITHUB, env="GITHUB_TOKEN", flag="github_token", key="github_token",
        url="pip install git+https://{}@github.com/org/private-peft.git", prose="my GitHub token is {}")
_add("github-pat", "yaml", f"GH_TOKEN: {GITHUB_PAT}", GITHUB_PAT)
_add("github-pat", "url", f"git remote set-url origin https://x-access-token:{GITHUB_PAT}@github.com/o/r.git",
     GITHUB_PAT)
_add("aws", "ini", f"aws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}", AWS_ID, AWS_SECRET)
_family("aws-secret", AWS_SECRET, env="AWS_SECRET_ACCESS_KEY", flag="aws_secret_access_key",
        key="aws_secret_access_key", url=None, prose="my aws secret key is {}")
_add("aws-id", "prose", f"the access key id is {AWS_ID}, region us-east-1", AWS_ID)
_family("wandb-key", WANDB, env="WANDB_API_KEY", flag="wandb_api_key", key="wandb_api_key", url=None,
        prose="my wandb key is {}")
_add("wandb-key", "login", f"wandb login {WANDB}", WANDB)
_add("wandb-key", "login-relogin", f"!wandb login --relogin {WANDB_2}", WANDB_2)
_add("wandb-key", "python", f'wandb.login(key="{WANDB}")', WANDB)
_add("wandb-key", "api-key-line", f"wandb: Paste an API key from your profile and hit enter: {WANDB_2}", WANDB_2)
_add("wandb-key", "api-key-prose", f"wandb: ERROR API key {WANDB} is invalid (error 401)", WANDB)
_add("wandb-key", "netrc-append", f"wandb: Appending key for api.wandb.ai to your netrc file: /root/.netrc ({WANDB_2})",
     WANDB_2)
_add("wandb-key", "netrc", f"machine api.wandb.ai\n  login user\n  password {WANDB}", WANDB)
_add("wandb-key", "netrc-one-line", f"machine api.wandb.ai login user password {WANDB_2}", WANDB_2)
_family("jwt", JWT, env="API_JWT", flag="auth_token", key="id_token",
        url="https://internal.example.com/runs?jwt={}", prose="the session cookie was {} yesterday")
_add("jwt", "bearer", f"curl -H 'Authorization: Bearer {JWT}' http://127.0.0.1:8000/v1/diagnose", JWT)
_add("basic-auth", "header", f'curl -H "Authorization: Basic {BASIC}" https://registry.example.com/v2/', BASIC)
_add("basic-auth", "yaml", f"authorization: Basic {BASIC}", BASIC)
_add("basic-auth", "json", json.dumps({"headers": {"Authorization": f"Basic {BASIC}"}}), BASIC)
_add("authorization", "no-scheme", json.dumps({"headers": {"Authorization": URL_ACCESS_TOKEN}}), URL_ACCESS_TOKEN)
_add("authorization", "token-scheme", f"Authorization: token {GITHUB_PAT}", GITHUB_PAT)
_add("camel-case", "json-access-token", json.dumps({"accessToken": URL_TOKEN, "expiresIn": 3600}), URL_TOKEN)
_add("camel-case", "json-client-secret", f'{{"clientId": "tunedoc-ci", "clientSecret": "{SLACK_SIGNING}"}}',
     SLACK_SIGNING)
_add("camel-case", "azure-connection-string", "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;"
     f"AccountName=ckpts;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net", AZURE_KEY)
_add("zh-prose", "password", f"服务器密码是 {PASSWORD}，帮忙看下为什么上传失败", PASSWORD)
_add("zh-prose", "token", f"我的令牌：{COMET} 已经配置好了", COMET)
_add("zh-prose", "token-is", f"我的 token 是 {MODELSCOPE}", MODELSCOPE)
_add("basic-auth", "curl-user", f"curl -u trainer:{URL_PASSWORD} https://artifacts.example.com/ckpt.tar", URL_PASSWORD)
_add("url-password", "https", f"https://alice:{URL_PASSWORD}@artifacts.internal.example.com/ckpt/step-500.tar",
     URL_PASSWORD)
_add("url-password", "postgres", f"DATABASE_URL=postgresql://trainer:{DB_PASSWORD}@db.internal:5432/runs",
     DB_PASSWORD)
_add("url-password", "postgres-prose", f"mlflow server --backend-store-uri postgresql://u:{DB_PASSWORD}@10.0.0.7/db",
     DB_PASSWORD)
_add("url-password", "redis", f"broker_url: redis://:{URL_PASSWORD}@cache:6379/0", URL_PASSWORD)
_add("url-password", "mongodb", f'"uri": "mongodb+srv://admin:{DB_PASSWORD}@cluster0.abcde.mongodb.net/?retryWrites=true"',
     DB_PASSWORD)
_add("url-password", "at-in-password", f"pip install -i https://ci:{URL_PASSWORD}@pypi.example.com/simple torch",
     URL_PASSWORD)
_add("url-token", "query", f"https://hub.example.com/api/models?token={URL_TOKEN}&access_token={URL_ACCESS_TOKEN}",
     URL_TOKEN, URL_ACCESS_TOKEN)
_add("url-token", "query-apikey", f"GET /v1/runs?page=2&api_key={URL_ACCESS_TOKEN} HTTP/1.1", URL_ACCESS_TOKEN)
_add("url-token", "webhook", f"webhook: https://oapi.dingtalk.com/robot/send?access_token={URL_ACCESS_TOKEN}",
     URL_ACCESS_TOKEN)
_add("url-token", "s3-presigned", "https://bucket.s3.amazonaws.com/ckpt.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256"
     f"&X-Amz-Credential={AWS_ID}%2F20240611%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={S3_SIGNATURE}",
     AWS_ID, S3_SIGNATURE)
_family("modelscope-token", MODELSCOPE, env="MODELSCOPE_API_TOKEN", flag="token", key="modelscope_api_token",
        url="https://modelscope.cn/api/v1/login?access_token={}", prose="my modelscope token is {}")
_family("comet-key", COMET, env="COMET_API_KEY", flag="comet_api_key", key="comet_api_key",
        url="https://www.comet.com/api/rest/v2/workspaces?api_key={}", prose="my comet api key is {}")
_add("comet-key", "env-rest", f"COMET_REST_API_KEY={COMET}", COMET)
_family("swanlab-key", SWANLAB, env="SWANLAB_API_KEY", flag="swanlab_api_key", key="swanlab_api_key", url=None,
        prose="my swanlab api key is {}")
_add("swanlab-key", "python", f'swanlab.login(api_key="{SWANLAB}")', SWANLAB)
_family("neptune-token", NEPTUNE, env="NEPTUNE_API_TOKEN", flag="neptune_api_token", key="neptune_api_token",
        url=None, prose="my neptune token is {}")
_family("slack-token", SLACK_BOT, env="SLACK_BOT_TOKEN", flag="slack_token", key="slack_bot_token",
        url="https://slack.com/api/chat.postMessage?token={}", prose="the slack bot uses {} to post alerts")
_add("slack-token", "user-token", f"SLACK_USER_TOKEN={SLACK_USER}", SLACK_USER)
_add("slack-token", "user-token-prose", f"posting with {SLACK_USER} failed: not_authed", SLACK_USER)
_add("slack-token", "signing-secret", f"SLACK_SIGNING_SECRET={SLACK_SIGNING}", SLACK_SIGNING)
_add("slack-token", "signing-secret-yaml", f"slack_signing_secret: '{SLACK_SIGNING}'", SLACK_SIGNING)
_add("slack-webhook", "env", f"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/{SLACK_HOOK_PATH}",
     SLACK_HOOK_PATH)
_add("slack-webhook", "callback", f"callbacks: [SlackCallback(url='https://hooks.slack.com/services/{SLACK_HOOK_PATH}')]",
     SLACK_HOOK_PATH)
_family("password", PASSWORD, env="DB_PASSWORD", flag="password", key="password", url=None,
        prose="the password is {}")
_add("password", "yaml-spaces-quoted", f'password: "{PASSPHRASE}"', PASSPHRASE)
_add("password", "yaml-spaces-unquoted", f"password: {PASSPHRASE}", PASSPHRASE)
_add("password", "api-key-single-quoted-spaces", f"api_key='{SPACED_KEY}'", SPACED_KEY)
_add("password", "json-spaces", json.dumps({"user": "trainer", "password": SPACED_PASSPHRASE}), SPACED_PASSPHRASE)
_add("password", "cli-quoted-spaces", f'python upload.py --password "{SPACED_PASSPHRASE}" --host ftp.example.com',
     SPACED_PASSPHRASE)
_add("password", "prose-quoted", f'my password is "{SPACED_PASSPHRASE}", I changed it', SPACED_PASSPHRASE)
_add("password", "lower-case-key", f"api_key: {LOWER_KEY}", LOWER_KEY)
_add("password", "mlflow", f"MLFLOW_TRACKING_PASSWORD={PASSWORD}", PASSWORD)
_add("private-key", "rsa", RSA_KEY, *RSA_BODY)
_add("private-key", "pkcs8", PKCS8_KEY, *PKCS8_BODY)
_add("private-key", "openssh", "cat ~/.ssh/id_ed25519\n" + OPENSSH_KEY, *OPENSSH_BODY)
_add("private-key", "ec-indented", "\n".join("    " + line for line in EC_KEY.splitlines()), *EC_BODY)
_add("private-key", "json-escaped", json.dumps({"type": "service_account", "private_key": PKCS8_KEY + "\n"}),
     *PKCS8_BODY)
_add("private-key", "single-line", PKCS8_KEY.replace("\n", ""), "".join(PKCS8_BODY))


# ------------------------------------------------------------------ benign lines: must come out unchanged

BENIGN: list[str] = [
    # metrics and progress
    "{'loss': 1.7325, 'grad_norm': 0.8123, 'learning_rate': 1.9e-05, 'epoch': 0.12}",
    "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}",
    "{'train_runtime': 3021.4, 'train_samples_per_second': 4.2, 'train_steps_per_second': 0.26, "
    "'train_loss': 1.1234, 'epoch': 3.0, 'num_input_tokens_seen': 12582912}",
    "{'eval_loss': 1.402, 'eval_runtime': 12.5, 'eval_samples_per_second': 80.1, 'eval_tokens_per_second': 9123.4}",
    " 12%|█▏        | 120/1000 [03:12<23:31,  1.60s/it]",
    "Loading checkpoint shards: 100%|██████████| 4/4 [00:05<00:00,  1.31s/it]",
    "trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622",
    "***** Running training *****",
    "  Total train batch size (w. parallel, distributed & accumulation) = 64",
    "train_tokens_per_second: 2345.6",
    "Step 500: 'train/loss': 0.9123, 'train/tokens': 65536000",
    # configs: YAML, flags, JSON, kwargs
    "max_grad_norm: 1.0",
    "--save_total_limit 3",
    "--max_grad_norm 1.0 --warmup_ratio 0.03 --lr_scheduler_type cosine",
    "--gradient_checkpointing True --deepspeed examples/deepspeed/ds_z3_config.json",
    "--push_to_hub --hub_model_id org/qwen2-lora --hub_strategy every_save --hub_private_repo true",
    "--max_tokens 2048 --max_new_tokens 512",
    "max_new_tokens: 512",
    "cutoff_len: 4096",
    "pad_token: <|endoftext|>",
    'pad_token: "<|endoftext|>"',
    "eos_token: <|im_end|>",
    '"eos_token": "</s>",',
    '"bos_token_id": 1, "eos_token_id": 151643, "pad_token_id": 151643,',
    '"additional_special_tokens": ["<|im_start|>", "<|im_end|>"],',
    "use_fast_tokenizer: true",
    "hub_token: null",
    "hub_token: ${HF_TOKEN}",
    "huggingface-cli login --token $HF_TOKEN",
    "export HF_TOKEN=${HF_TOKEN:?set me}",
    "use_auth_token: true",
    "token=True,",
    "hub_token=<HUB_TOKEN>,",
    "push_to_hub_token=<PUSH_TO_HUB_TOKEN>,",
    "report_to=['wandb'],",
    "api_key: null",
    "password: ''",
    "tokenizer.pad_token = tokenizer.eos_token",
    "login(token=hf_token)",
    "token = os.environ.get('HF_TOKEN')",
    "model = AutoModelForCausalLM.from_pretrained(path, token=args.hub_token, torch_dtype=torch.bfloat16)",
    'DEFAULT_IMAGE_TOKEN = "<image>"',
    'DEFAULT_IM_START_TOKEN = "<im_start>"',
    "IMAGE_TOKEN_INDEX = -200",
    "image_token_index: 32000",
    "lora_target: q_proj,k_proj,v_proj,o_proj",
    "template: qwen",
    "dataset: alpaca_en_demo,identity",
    "model_name_or_path: /root/.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct/snapshots/"
    "a09a35458c702b33eeacc393d103063234e8bc28",
    "output_dir: saves/qwen2.5-7b/lora/sft",
    "zero_optimization: {stage: 3, overlap_comm: true, contiguous_gradients: true}",
    '"zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu", "pin_memory": true}},',
    "key: text",
    "sort_key: length",
    '"columns": {"prompt": "instruction", "query": "input", "response": "output"}',
    "passwordless ssh is set up between the nodes",
    "secret_sauce_ratio: 0.5",
    # environment
    "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
    "HF_ENDPOINT=https://hf-mirror.com",
    "HF_HUB_ENABLE_HF_TRANSFER=1",
    "HF_HOME=/data/hf_cache",
    "PWD=/root/LLaMA-Factory",
    "CUDA_VISIBLE_DEVICES=0,1,2,3 NCCL_DEBUG=INFO torchrun --nproc_per_node 4 --master_port 29500 train.py",
    "MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 WORLD_SIZE=16 RANK=0",
    "- `transformers` version: 4.46.1",
    "- Platform: Linux-5.15.0-105-generic-x86_64-with-glibc2.35",
    "torch 2.3.1+cu121, cuda 12.1, cudnn 8902",
    "GPU type: NVIDIA A100-SXM4-80GB",
    # hashes, commits, paths, URLs without credentials
    "commit 9f3c2a1b8e7d6c5f4a3b2c1d0e9f8a7b6c5d4e3f",
    "transformers @ git+https://github.com/huggingface/transformers@3f2a9d0b1c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
    "HEAD is now at 4e5f6a7 Merge pull request #5123 from hiyouga/fix-template",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  model-00001-of-00004.safetensors",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    "torch==2.3.1 --hash=sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    "Downloading https://files.pythonhosted.org/packages/7d/3f/torch-2.3.1-cp311-cp311-manylinux1_x86_64.whl (779.1 MB)",
    "Downloading shards: https://huggingface.co/Qwen/Qwen2.5-7B/resolve/main/model-00001-of-00004.safetensors?download=true",
    "git clone https://github.com/hiyouga/LLaMA-Factory.git",
    "git clone git@github.com:hiyouga/LLaMA-Factory.git",
    "ssh://git@github.com/org/repo.git",
    "https://wandb.ai/alice/llama-factory/runs/3kq9x2ab",
    "wandb: Currently logged in as: alice (team-llm). Use `wandb login --relogin` to force relogin",
    "wandb: Appending key for api.wandb.ai to your netrc file: /root/.netrc",
    "wandb: WARNING If you're specifying your api key in code, ensure this code is not shared publicly.",
    "wandb: Run data is saved locally in /root/wandb/run-20240611_101112-3kq9x2ab",
    "wandb: Syncing run glowing-sun-42",
    "Token is valid (permission: write).",
    "Your token has been saved to /root/.cache/huggingface/token",
    "Login successful",
    "The token has not been saved to the git credentials helper.",
    "HF_TOKEN is not set; trying anonymous access",
    "huggingface_hub.errors.HfHubHTTPError: 401 Client Error: Unauthorized for url: "
    "https://huggingface.co/api/models/meta-llama/Llama-2-7b-hf (Request ID: Root=1-6668a1b2-3c4d5e6f7a8b9c0d1e2f3a4b)",
    "Invalid credentials in Authorization header",
    "needs `Authorization: Bearer $TUNEDOC_API_KEY`, 403 when no key is configured",
    "pass the argument `trust_remote_code=True` to allow custom code",
    "https://huggingface.co/Qwen/Qwen-7B/discussions?status=open&sort=recent",
    "url format: postgresql://user:password@host:5432/db",
    "curl -u user:password https://example.com",
    'print(f"HF_TOKEN={token}")',
    "hub_token: '{{ secrets.HF_TOKEN }}'",
    "Basic usage: tunedoc diagnose train.log",
    "password authentication failed for user \"postgres\"",
    "Make sure your token has the correct permissions.",
    "The API key is read from WANDB_API_KEY when set.",
    # tokenizer output
    "tokens: ['<|im_start|>', 'system', 'Ċ', 'You', 'Ġare', 'Ġa', 'Ġhelpful', 'Ġassistant', '.', '<|im_end|>']",
    "input_ids: [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198]",
    "label_ids: [-100, -100, -100, -100, 40, 1079, 264, 3460, 4128, 1614, 13, 151645]",
    "inputs: <|im_start|>system\\nYou are a helpful assistant.<|im_end|>",
    "Token indices sequence length is longer than the specified maximum sequence length for this model (5000 > 4096).",
    "Setting `pad_token_id` to `eos_token_id`:151643 for open-end generation.",
    "Special tokens have been added in the vocabulary, make sure the associated word embeddings are fine-tuned.",
    "vocab pieces: ['▁The', '▁quick', 'ĠaGVsbG8', 'QUFBQUFB', 'dGVzdA==', 'SGVsbG8gV29ybGQ=']",
    "merges: ['Ġ t', 'Ġ a', 'h e', 'i n', 'r e', 'o n', 'Ġt he', 'e r']",
    '{"image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChw'
    'GA60e6kgAAAABJRU5ErkJggg=="}',
    "model.layers.27.self_attn.q_proj.lora_A.default.weight torch.Size([8, 3584])",
    "AutoModelForCausalLMWithValueHeadAndLoRAAdaptersForQwen2VLConditionalGenerationMixin",
    # CUDA, NCCL, tracebacks
    "RuntimeError: CUDA error: an illegal memory access was encountered",
    "frame #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x57 (0x7f3b2c3d8d87 in "
    "/usr/local/lib/python3.10/dist-packages/torch/lib/libc10.so)",
    "Segmentation fault at address 0x00007f8e4c0a1000, cudaMalloc returned ptr=0x7fd4e6000000",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB",
    "NCCL INFO NET/Socket : Using [0]eth0:10.0.0.5<0>",
    "[rank3]:[E611 10:11:12.345678 ProcessGroupNCCL.cpp:607] Watchdog caught collective operation timeout: "
    "WorkNCCL(SeqNum=12, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000)",
    '  File "/usr/local/lib/python3.11/site-packages/transformers/trainer.py", line 2122, in train',
    "ValueError: Target modules {'q_proj', 'v_proj'} not found in the base model.",
    "ImportError: flash_attn_2_cuda.so: undefined symbol: _ZN3c104cuda9SetDeviceEi",
    "-------------------------------------------------------------------------------------------------------",
    "=======================================================================================================",
    "##########################################################################################",
    "<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
    "-----BEGIN CERTIFICATE-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN4r9kXl0wQe7cF3yP2mZs8vT1uJbH6aG5dK4oL3nR2q alice@node-1",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "模型路径: /data/models/Qwen2.5-7B-Instruct，训练到第 300 步 loss 变成 nan",
    "我的 token 设置没问题，报错是 CUDA out of memory",
    "训练时 max token 是 4096，密码错误的问题已经解决",
    "eos token 是 <|im_end|>，pad token 为 <|endoftext|>",
    '{"maxTokens": 2048, "padToken": "<pad>", "useAuthToken": true, "sortKey": "length"}',
    "",
]
