// Generated from openapi.yaml by scripts/gen-openapi.sh; a test keeps the two identical.
enum OpenAPIDocument {
    static let yaml = ####"""
openapi: 3.0.3
info:
  title: m2d-server
  version: 0.1.0
  description: |
    HTTP API of `m2d-server`: M2D (Masked Modeling Duo) audio embeddings over libmicrohttpd.

    * Inference routes: `POST /embed` (native), `POST /v1/embeddings` (OpenAI-compatible, alias
      `/embeddings`) and `POST /classify` (linear-probe heads; answers 404 while the model has no heads).
    * Model and server facts: `GET /info`, `GET /v1/models` (alias `/models`).
    * Health: `GET /health/live` (aliases `/livez`, `/v2/health/live`), `GET /health/ready`
      (aliases `/readyz`, `/v2/health/ready`) and `GET /health` (= readiness).
    * `GET /metrics` (Prometheus text 0.0.4) and `GET /openapi.yaml` (this document).

    Every route that allows `GET` also allows `HEAD` (same status and headers, empty body). Any other
    method on a known path is answered `405` with an `Allow` header (`POST`, or `GET, HEAD`); an
    unknown path is answered `404` (`not_found`, native error shape). A trailing slash is ignored.

    **Request forms** (inference routes, all three accept the same forms):
    1. `multipart/form-data`: the audio in a file part named `file` (repeat it for a batch; `file[]`,
       `files`, `data` and `audio` are accepted too); options as plain form fields.
       `application/x-www-form-urlencoded` is parsed the same way.
    2. A raw audio body with an audio media type (`audio/wav`, `audio/flac`, `audio/ogg`, `audio/mpeg`,
       ...) or `application/octet-stream` (the container is sniffed from its first bytes: RIFF/WAVE,
       RF64, fLaC, OggS, FORM/AIFF, ID3 or an MPEG frame sync); options in the query string.
    3. `application/json`: `{"inputs": "<base64 | data:audio/...;base64,...>" | [...]}`
       (`{"input": ...}` on `/v1/embeddings`; each route also accepts the other key), options as
       JSON keys or inside `"parameters": {...}` (Hugging Face style). URLs are never fetched (422).

    Query-string options apply to every form. For multipart and urlencoded bodies a query option wins
    over a form field of the same name; for JSON bodies a JSON key wins over the query. Unknown options
    and unknown form fields are ignored. Audio formats: WAV (PCM 8/16/24/32-bit, float), FLAC,
    OGG Vorbis, Opus, MP3, AIFF; MP4/M4A/AAC and WebM/Matroska are refused with 415.

    **Errors.** Native routes answer `{"error": "<message>", "error_type": "<type>", "code": <status>}`
    (TEI shape); `/v1/embeddings`, `/embeddings`, `/v1/models` and `/models` answer the OpenAI shape
    `{"error": {"message", "type", "param", "code"}}`. Status table: 400 `empty` | `invalid_request` |
    `invalid_audio`; 401 `unauthorized` (+ `WWW-Authenticate: Bearer`); 404 `not_found`;
    405 `method_not_allowed` (+ `Allow`); 413 `payload_too_large` (body over `--payload-limit`, more
    inputs than `--max-client-batch-size`, audio longer than `--max-audio-seconds`); 415
    `unsupported_media_type` (+ `Accept-Post`); 422 `validation`; 429 `overloaded` (+ `Retry-After: 1`);
    503 `unhealthy` (+ `Retry-After: 5`); 500 `backend`. A request whose body is larger than
    `--payload-limit` is answered 413 on any route.

    **Request ids.** Every response produced by a route handler carries `x-request-id`: the request's
    own `x-request-id` header echoed, or a new lowercase UUID. Responses decided before the body is
    read (404 unknown route, 405, 401, 413, and 429/503 admission rejections) carry it only when the
    request sent one.

    **Auth.** When the server is started with `--api-key` (env `API_KEY`), `/embed`, `/classify`,
    `/v1/*`, `/embeddings`, `/models` and `/info` require `Authorization: Bearer <key>`; health,
    metrics and this document stay open. Without `--api-key` no route checks credentials.
servers:
  - url: http://localhost:8080
    description: default --host/--port
tags:
  - name: inference
  - name: openai
    description: OpenAI-compatible routes (nested error shape)
  - name: info
  - name: health
  - name: observability

paths:
  /embed:
    post:
      tags: [inference]
      operationId: embed
      summary: Audio to M2D embeddings (native)
      description: |
        Decodes each input (libsndfile), downmixes to mono, resamples to the model rate, and returns one
        clip embedding per input (`granularity=clip`, the mean over frames) or the frame embeddings with
        `timestamps_ms` (`granularity=frames`). Embeddings are not normalised unless `normalize=true`.
        With `encoding_format=base64` each embedding is base64 of little-endian float32; for frames it
        is one string of T x E floats (row-major) and `shape` is `[T, E]`.
        `usage.prompt_tokens` = `usage.total_tokens` = number of 160 ms M2D time steps encoded.
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
        - $ref: '#/components/parameters/Normalize'
        - $ref: '#/components/parameters/EncodingFormat'
        - $ref: '#/components/parameters/Granularity'
        - $ref: '#/components/parameters/ModelNative'
      requestBody:
        $ref: '#/components/requestBodies/EmbedBody'
      responses:
        '200':
          $ref: '#/components/responses/EmbedOK'
        '400':
          $ref: '#/components/responses/BadRequest'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '413':
          $ref: '#/components/responses/PayloadTooLarge'
        '415':
          $ref: '#/components/responses/UnsupportedMediaType'
        '422':
          $ref: '#/components/responses/ValidationFailed'
        '429':
          $ref: '#/components/responses/Overloaded'
        '500':
          $ref: '#/components/responses/BackendError'
        '503':
          $ref: '#/components/responses/Unavailable'

  /classify:
    post:
      tags: [inference]
      operationId: classify
      summary: Linear-probe classification (needs heads)
      description: |
        Scores each input with a linear-probe head (`heads/<name>.safetensors` in the model directory).
        One input gives `[{"label", "score"}, ...]` sorted by score; a batch gives one such list per
        input. `head` picks the head (default: the only one); `top_k` keeps the best k;
        `function_to_apply` overrides the head's activation.

        Heads are loaded from `<model>/heads/*.safetensors` at start (made by `m2d-train probe`);
        SIGHUP reloads them without dropping requests. With no heads the answer is 404 `not_found`;
        with several heads and no `head` option it is 422 listing them; an unknown `head` is 404.
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
        - $ref: '#/components/parameters/Head'
        - $ref: '#/components/parameters/TopK'
        - $ref: '#/components/parameters/FunctionToApply'
        - $ref: '#/components/parameters/Normalize'
        - $ref: '#/components/parameters/ModelNative'
      requestBody:
        $ref: '#/components/requestBodies/ClassifyBody'
      responses:
        '200':
          $ref: '#/components/responses/ClassifyOK'
        '400':
          $ref: '#/components/responses/BadRequest'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '413':
          $ref: '#/components/responses/PayloadTooLarge'
        '415':
          $ref: '#/components/responses/UnsupportedMediaType'
        '422':
          $ref: '#/components/responses/ValidationFailed'
        '429':
          $ref: '#/components/responses/Overloaded'
        '500':
          $ref: '#/components/responses/BackendError'
        '503':
          $ref: '#/components/responses/Unavailable'

  /v1/embeddings:
    post:
      tags: [openai]
      operationId: createEmbeddings
      summary: OpenAI-compatible embeddings (audio as base64 or data URI)
      description: |
        OpenAI `POST /v1/embeddings` for audio: `input` is a base64 string, a `data:audio/<fmt>;base64,...`
        URI, or a list of them. Always clip embeddings (`granularity` is validated but has no effect).
        `model` is optional and, when it differs from the served model, only logged; `dimensions` must be
        null or the model's embedding size (M2D embeddings cannot be shortened); `modality`, when a
        string, must be `audio`. The multipart and raw-audio forms of `/embed` work here too.
        Errors use the OpenAI nested shape.
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
        - $ref: '#/components/parameters/EncodingFormat'
        - $ref: '#/components/parameters/Dimensions'
        - $ref: '#/components/parameters/ModelOpenAI'
        - $ref: '#/components/parameters/Normalize'
      requestBody:
        $ref: '#/components/requestBodies/OpenAIEmbedBody'
      responses:
        '200':
          $ref: '#/components/responses/OpenAIEmbedOK'
        '400':
          $ref: '#/components/responses/OpenAIBadRequest'
        '401':
          $ref: '#/components/responses/OpenAIUnauthorized'
        '413':
          $ref: '#/components/responses/OpenAIPayloadTooLarge'
        '415':
          $ref: '#/components/responses/OpenAIUnsupportedMediaType'
        '422':
          $ref: '#/components/responses/OpenAIValidationFailed'
        '429':
          $ref: '#/components/responses/OpenAIOverloaded'
        '500':
          $ref: '#/components/responses/OpenAIBackendError'
        '503':
          $ref: '#/components/responses/OpenAIUnavailable'

  /embeddings:
    post:
      tags: [openai]
      operationId: createEmbeddingsAlias
      summary: Alias of POST /v1/embeddings
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
        - $ref: '#/components/parameters/EncodingFormat'
        - $ref: '#/components/parameters/Dimensions'
        - $ref: '#/components/parameters/ModelOpenAI'
        - $ref: '#/components/parameters/Normalize'
      requestBody:
        $ref: '#/components/requestBodies/OpenAIEmbedBody'
      responses:
        '200':
          $ref: '#/components/responses/OpenAIEmbedOK'
        '400':
          $ref: '#/components/responses/OpenAIBadRequest'
        '401':
          $ref: '#/components/responses/OpenAIUnauthorized'
        '413':
          $ref: '#/components/responses/OpenAIPayloadTooLarge'
        '415':
          $ref: '#/components/responses/OpenAIUnsupportedMediaType'
        '422':
          $ref: '#/components/responses/OpenAIValidationFailed'
        '429':
          $ref: '#/components/responses/OpenAIOverloaded'
        '500':
          $ref: '#/components/responses/OpenAIBackendError'
        '503':
          $ref: '#/components/responses/OpenAIUnavailable'

  /v1/models:
    get:
      tags: [openai]
      operationId: listModels
      summary: The served model, OpenAI list shape
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/ModelsOK'
        '401':
          $ref: '#/components/responses/OpenAIUnauthorized'
    head:
      tags: [openai]
      operationId: headModels
      summary: HEAD of GET /v1/models
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'
        '401':
          $ref: '#/components/responses/HeadUnauthorized'

  /models:
    get:
      tags: [openai]
      operationId: listModelsAlias
      summary: Alias of GET /v1/models
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/ModelsOK'
        '401':
          $ref: '#/components/responses/OpenAIUnauthorized'
    head:
      tags: [openai]
      operationId: headModelsAlias
      summary: HEAD of GET /models
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'
        '401':
          $ref: '#/components/responses/HeadUnauthorized'

  /info:
    get:
      tags: [info]
      operationId: info
      summary: Model, limits, heads and build facts
      description: |
        The model fields (`model_id` ... `provenance`) are present once the model is loaded; the server
        fields are always present. `status` is the readiness phase.
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/InfoOK'
        '401':
          $ref: '#/components/responses/Unauthorized'
    head:
      tags: [info]
      operationId: headInfo
      summary: HEAD of GET /info
      security:
        - bearerAuth: []
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'
        '401':
          $ref: '#/components/responses/HeadUnauthorized'

  /health/live:
    get:
      tags: [health]
      operationId: live
      summary: Liveness (200 from bind to exit; never touches the model)
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/LiveOK'
    head:
      tags: [health]
      operationId: headLive
      summary: HEAD of GET /health/live
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'

  /livez:
    get:
      tags: [health]
      operationId: liveAliasLivez
      summary: Alias of GET /health/live
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/LiveOK'
    head:
      tags: [health]
      operationId: headLiveAliasLivez
      summary: HEAD of GET /livez
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'

  /v2/health/live:
    get:
      tags: [health]
      operationId: liveAliasV2
      summary: Alias of GET /health/live (KServe v2)
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/LiveOK'
    head:
      tags: [health]
      operationId: headLiveAliasV2
      summary: HEAD of GET /v2/health/live
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'

  /health/ready:
    get:
      tags: [health]
      operationId: ready
      summary: Readiness (weights loaded, warm-up passed, worker progressing, not draining)
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/ReadyOK'
        '503':
          $ref: '#/components/responses/NotReady'
    head:
      tags: [health]
      operationId: headReady
      summary: HEAD of GET /health/ready
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'
        '503':
          $ref: '#/components/responses/HeadNotReady'

  /readyz:
    get:
      tags: [health]
      operationId: readyAliasReadyz
      summary: Alias of GET /health/ready
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/ReadyOK'
        '503':
          $ref: '#/components/responses/NotReady'
    head:
      tags: [health]
      operationId: headReadyAliasReadyz
      summary: HEAD of GET /readyz
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'
        '503':
          $ref: '#/components/responses/HeadNotReady'

  /v2/health/ready:
    get:
      tags: [health]
      operationId: readyAliasV2
      summary: Alias of GET /health/ready (KServe v2)
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/ReadyOK'
        '503':
          $ref: '#/components/responses/NotReady'
    head:
      tags: [health]
      operationId: headReadyAliasV2
      summary: HEAD of GET /v2/health/ready
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'
        '503':
          $ref: '#/components/responses/HeadNotReady'

  /health:
    get:
      tags: [health]
      operationId: health
      summary: Same as GET /health/ready
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/ReadyOK'
        '503':
          $ref: '#/components/responses/NotReady'
    head:
      tags: [health]
      operationId: headHealth
      summary: HEAD of GET /health
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'
        '503':
          $ref: '#/components/responses/HeadNotReady'

  /metrics:
    get:
      tags: [observability]
      operationId: metrics
      summary: Prometheus metrics (text exposition format 0.0.4)
      description: |
        `m2d_requests_total{route,code}`, `m2d_request_duration_seconds{route}`,
        `m2d_decode_duration_seconds{format}`, `m2d_queue_duration_seconds`,
        `m2d_inference_duration_seconds`, `m2d_batch_chunks`, `m2d_audio_input_seconds`,
        `m2d_audio_seconds_total`, `m2d_request_size_bytes{route}`, `m2d_queue_depth`,
        `m2d_inflight_requests`, `m2d_rejected_requests_total{reason}`, `m2d_ready`,
        `m2d_build_info{version,commit,model,blas}` and the standard `process_*` metrics.
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/MetricsOK'
    head:
      tags: [observability]
      operationId: headMetrics
      summary: HEAD of GET /metrics
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'

  /openapi.yaml:
    get:
      tags: [observability]
      operationId: openapi
      summary: This document, embedded in the binary
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/OpenAPIOK'
    head:
      tags: [observability]
      operationId: headOpenapi
      summary: HEAD of GET /openapi.yaml
      parameters:
        - $ref: '#/components/parameters/RequestId'
      responses:
        '200':
          $ref: '#/components/responses/HeadOK'

components:
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      description: |
        The key given by `--api-key` / `API_KEY`, compared in constant time. Enforced only when the
        server was started with a key; then a missing or wrong key gives 401 with `WWW-Authenticate: Bearer`.

  parameters:
    RequestId:
      name: x-request-id
      in: header
      required: false
      description: Echoed in the `x-request-id` response header; a UUID is generated when absent.
      schema:
        type: string
        minLength: 1
    Normalize:
      name: normalize
      in: query
      required: false
      description: |
        L2-normalise each embedding (each frame for `granularity=frames`). Default false. Accepted text:
        `true`, `1`, `yes`, `false`, `0`, `no` (any case) or empty (= false); anything else is 422.
      schema:
        type: boolean
        default: false
    EncodingFormat:
      name: encoding_format
      in: query
      required: false
      description: '`float` (JSON numbers) or `base64` (little-endian float32). Anything else is 422.'
      schema:
        $ref: '#/components/schemas/EncodingFormat'
    Granularity:
      name: granularity
      in: query
      required: false
      description: '`clip` (one embedding per input) or `frames` (T frame embeddings + timestamps). Anything else is 422.'
      schema:
        $ref: '#/components/schemas/Granularity'
    ModelNative:
      name: model
      in: query
      required: false
      description: When given, must equal the served model id (see /info `model_id`), else 422.
      schema:
        type: string
    ModelOpenAI:
      name: model
      in: query
      required: false
      description: Optional; a different name is logged as a warning and the served model answers.
      schema:
        type: string
    Dimensions:
      name: dimensions
      in: query
      required: false
      description: Must be an integer equal to the model's embedding size (/info `embedding_dim`), else 422.
      schema:
        type: integer
    Head:
      name: head
      in: query
      required: false
      description: Name of the probe head (default the only head).
      schema:
        type: string
    TopK:
      name: top_k
      in: query
      required: false
      description: Keep the k best labels; an integer >= 1, else 422.
      schema:
        type: integer
        minimum: 1
    FunctionToApply:
      name: function_to_apply
      in: query
      required: false
      description: Activation over the head's logits (default from the head's metadata); else 422.
      schema:
        $ref: '#/components/schemas/FunctionToApply'

  headers:
    XRequestId:
      description: The request's `x-request-id`, or a generated lowercase UUID.
      required: true
      schema:
        type: string
    XRequestIdEcho:
      description: The request's `x-request-id`; present when the request sent one, or when a route handler answered (then a generated UUID if none was sent).
      required: false
      schema:
        type: string
    XTotalTime:
      description: Milliseconds from the request head to the response (one decimal).
      required: true
      schema:
        type: number
        minimum: 0
    XDecodeTime:
      description: Milliseconds spent decoding, resampling and computing log-mel (one decimal).
      required: true
      schema:
        type: number
        minimum: 0
    XQueueTime:
      description: Milliseconds waiting for the inference worker (one decimal).
      required: true
      schema:
        type: number
        minimum: 0
    XInferenceTime:
      description: Milliseconds of encoder forward passes (one decimal).
      required: true
      schema:
        type: number
        minimum: 0
    XAudioSeconds:
      description: Seconds of audio in the request (three decimals).
      required: true
      schema:
        type: number
        minimum: 0
    RetryAfterOverloaded:
      description: Seconds to wait before retrying.
      required: true
      schema:
        type: integer
        enum: [1]
    RetryAfterUnavailable:
      description: Seconds to wait before retrying.
      required: true
      schema:
        type: integer
        enum: [5]
    WWWAuthenticate:
      required: true
      schema:
        type: string
        enum: [Bearer]
    Allow:
      description: The methods the path accepts.
      required: true
      schema:
        type: string
        enum: ['POST', 'GET, HEAD']
    AcceptPost:
      description: The accepted request media types.
      required: true
      schema:
        type: string
        enum: ['multipart/form-data, audio/wav, audio/flac, audio/ogg, audio/mpeg, application/octet-stream, application/json']

  requestBodies:
    EmbedBody:
      required: true
      description: Audio in one of the three forms; options in the query string, form fields or JSON keys.
      content:
        multipart/form-data:
          schema:
            $ref: '#/components/schemas/EmbedForm'
        application/x-www-form-urlencoded:
          schema:
            $ref: '#/components/schemas/EmbedForm'
        application/json:
          schema:
            $ref: '#/components/schemas/EmbedJSONRequest'
          examples:
            tinyWav:
              summary: 0.1 s of an 8 kHz 8-bit WAV, bare base64
              value:
                inputs: 'UklGRkQDAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YSADAACAjZmip6ejmo6Bc2deWFhcZHB9i5ehpqeknJGDdmlfWVhbYm16iJWfpqelnpOGeGthWlhaYWt4hpOepaemn5WIem1iW1hZX2l2g5GcpKemoZeLfXBkXFhYXmdzgY6ao6enopmNf3JmXVhYXGVxfoyYoaeno5uPgnRoXllYW2NufImWoKanpJ2ShXdqYFlYWmFseYeUnqWopZ6Uh3lsYVpYWWBqd4WSnaSnpqCWiXxuY1tYWV5odIKPm6Onp6GYjH5xZVxYWF1mcoCNmaKnp6OajoFzZ15YWFxkcH2Ll6Gmp6SckYN2aV9ZWFtibXqIlZ+mp6Wek4Z4a2FaWFpha3iGk56lp6aflYh6bWJbWFlfaXaDkZykp6ahl4t9cGRcWFheZ3OBjpqjp6eimY2AcmZdWFhcZXF+jJihp6ejm4+CdGheWVhbY258iZagpqeknZKFd2pgWVhaYWx5h5SepailnpSHeWxhWlhZYGp3hZKdpKemoJaJfG5jW1hZXmh0go+bo6enoZiMfnFlXFhYXWZygI2Zoqeno5qOgXNnXlhYXGRwfYuXoaanpJyRg3ZpX1lYW2JteoiVn6anpZ6ThnhrYVpYWmFreIaTnqWnpp+ViHptYltYWV9pdoORnKSnpqGXi31wZFxYWF5nc4GOmqOnp6KZjX9yZl1YWFxlcX6MmKGnp6Obj4J0aF5ZWFtjbnyJlqCmp6SdkoV3amBZWFphbHmHlJ6lqKWelId5bGFaWFlganeFkp2kp6aglol8bmNbWFleaHSCj5ujp6ehmIx+cWVcWFhdZnJ/jZmip6ejmo6Bc2deWFhcZHB9i5ehpqeknJGDdmlfWVhbYm16iJWfpqelnpOGeGthWlhaYWt4hpOepaemn5WIem1iW1hZX2l2g5GcpKemoZeLfXBkXFhYXmdzgY6ao6enopmNf3JmXVhYXGVxfoyYoaeno5uPgnRoXllYW2NufImWoKanpJ2ShXdqYFlYWmFseYeUnqWopZ6Uh3lsYVpYWWBqd4WSnaSnpqCWiXxuY1tYWV5odIKPm6Onp6GYjH5xZVxYWF1mcg=='
        audio/wav: &rawAudio
          schema:
            $ref: '#/components/schemas/RawAudio'
        audio/x-wav: *rawAudio
        audio/wave: *rawAudio
        audio/vnd.wave: *rawAudio
        audio/flac: *rawAudio
        audio/x-flac: *rawAudio
        audio/ogg: *rawAudio
        audio/opus: *rawAudio
        audio/mpeg: *rawAudio
        audio/mp3: *rawAudio
        audio/aiff: *rawAudio
        audio/x-aiff: *rawAudio
        application/ogg: *rawAudio
        application/octet-stream: *rawAudio
    ClassifyBody:
      required: true
      description: The same forms as /embed, plus the classification options.
      content:
        multipart/form-data:
          schema:
            $ref: '#/components/schemas/ClassifyForm'
        application/x-www-form-urlencoded:
          schema:
            $ref: '#/components/schemas/ClassifyForm'
        application/json:
          schema:
            $ref: '#/components/schemas/ClassifyJSONRequest'
        audio/wav: *rawAudio
        audio/x-wav: *rawAudio
        audio/wave: *rawAudio
        audio/vnd.wave: *rawAudio
        audio/flac: *rawAudio
        audio/x-flac: *rawAudio
        audio/ogg: *rawAudio
        audio/opus: *rawAudio
        audio/mpeg: *rawAudio
        audio/mp3: *rawAudio
        audio/aiff: *rawAudio
        audio/x-aiff: *rawAudio
        application/ogg: *rawAudio
        application/octet-stream: *rawAudio
    OpenAIEmbedBody:
      required: true
      description: 'OpenAI JSON (`{"input": ...}`); the multipart and raw-audio forms of /embed are accepted too.'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIEmbeddingRequest'
          examples:
            tinyWav:
              summary: 0.1 s of an 8 kHz 8-bit WAV as a data URI
              value:
                input: 'data:audio/wav;base64,UklGRkQDAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YSADAACAjZmip6ejmo6Bc2deWFhcZHB9i5ehpqeknJGDdmlfWVhbYm16iJWfpqelnpOGeGthWlhaYWt4hpOepaemn5WIem1iW1hZX2l2g5GcpKemoZeLfXBkXFhYXmdzgY6ao6enopmNf3JmXVhYXGVxfoyYoaeno5uPgnRoXllYW2NufImWoKanpJ2ShXdqYFlYWmFseYeUnqWopZ6Uh3lsYVpYWWBqd4WSnaSnpqCWiXxuY1tYWV5odIKPm6Onp6GYjH5xZVxYWF1mcoCNmaKnp6OajoFzZ15YWFxkcH2Ll6Gmp6SckYN2aV9ZWFtibXqIlZ+mp6Wek4Z4a2FaWFpha3iGk56lp6aflYh6bWJbWFlfaXaDkZykp6ahl4t9cGRcWFheZ3OBjpqjp6eimY2AcmZdWFhcZXF+jJihp6ejm4+CdGheWVhbY258iZagpqeknZKFd2pgWVhaYWx5h5SepailnpSHeWxhWlhZYGp3hZKdpKemoJaJfG5jW1hZXmh0go+bo6enoZiMfnFlXFhYXWZygI2Zoqeno5qOgXNnXlhYXGRwfYuXoaanpJyRg3ZpX1lYW2JteoiVn6anpZ6ThnhrYVpYWmFreIaTnqWnpp+ViHptYltYWV9pdoORnKSnpqGXi31wZFxYWF5nc4GOmqOnp6KZjX9yZl1YWFxlcX6MmKGnp6Obj4J0aF5ZWFtjbnyJlqCmp6SdkoV3amBZWFphbHmHlJ6lqKWelId5bGFaWFlganeFkp2kp6aglol8bmNbWFleaHSCj5ujp6ehmIx+cWVcWFhdZnJ/jZmip6ejmo6Bc2deWFhcZHB9i5ehpqeknJGDdmlfWVhbYm16iJWfpqelnpOGeGthWlhaYWt4hpOepaemn5WIem1iW1hZX2l2g5GcpKemoZeLfXBkXFhYXmdzgY6ao6enopmNf3JmXVhYXGVxfoyYoaeno5uPgnRoXllYW2NufImWoKanpJ2ShXdqYFlYWmFseYeUnqWopZ6Uh3lsYVpYWWBqd4WSnaSnpqCWiXxuY1tYWV5odIKPm6Onp6GYjH5xZVxYWF1mcg=='
                model: m2d
                encoding_format: float
        multipart/form-data:
          schema:
            $ref: '#/components/schemas/OpenAIEmbeddingForm'
        application/x-www-form-urlencoded:
          schema:
            $ref: '#/components/schemas/OpenAIEmbeddingForm'
        audio/wav: *rawAudio
        audio/x-wav: *rawAudio
        audio/wave: *rawAudio
        audio/vnd.wave: *rawAudio
        audio/flac: *rawAudio
        audio/x-flac: *rawAudio
        audio/ogg: *rawAudio
        audio/opus: *rawAudio
        audio/mpeg: *rawAudio
        audio/mp3: *rawAudio
        audio/aiff: *rawAudio
        audio/x-aiff: *rawAudio
        application/ogg: *rawAudio
        application/octet-stream: *rawAudio

  responses:
    EmbedOK:
      description: One embedding (or frame list) per input, in input order.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
        x-total-time:
          $ref: '#/components/headers/XTotalTime'
        x-decode-time:
          $ref: '#/components/headers/XDecodeTime'
        x-queue-time:
          $ref: '#/components/headers/XQueueTime'
        x-inference-time:
          $ref: '#/components/headers/XInferenceTime'
        x-audio-seconds:
          $ref: '#/components/headers/XAudioSeconds'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/EmbedResponse'
    OpenAIEmbedOK:
      description: One clip embedding per input, OpenAI shape.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
        x-total-time:
          $ref: '#/components/headers/XTotalTime'
        x-decode-time:
          $ref: '#/components/headers/XDecodeTime'
        x-queue-time:
          $ref: '#/components/headers/XQueueTime'
        x-inference-time:
          $ref: '#/components/headers/XInferenceTime'
        x-audio-seconds:
          $ref: '#/components/headers/XAudioSeconds'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIEmbeddingResponse'
    ClassifyOK:
      description: Labels sorted by score; a list of lists for a batch.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
        x-total-time:
          $ref: '#/components/headers/XTotalTime'
        x-decode-time:
          $ref: '#/components/headers/XDecodeTime'
        x-queue-time:
          $ref: '#/components/headers/XQueueTime'
        x-inference-time:
          $ref: '#/components/headers/XInferenceTime'
        x-audio-seconds:
          $ref: '#/components/headers/XAudioSeconds'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/ClassifyResponse'
    ModelsOK:
      description: The one served model.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/ModelList'
    InfoOK:
      description: Model, limits and build facts.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Info'
    LiveOK:
      description: The process is up and its HTTP loop answers.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/HealthOK'
    ReadyOK:
      description: Ready to serve inference.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/HealthOK'
    NotReady:
      description: Loading, draining, or unhealthy (3 inference failures in a row, or the worker stalled for more than 30 s).
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
        Retry-After:
          $ref: '#/components/headers/RetryAfterUnavailable'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/HealthUnavailable'
    MetricsOK:
      description: Prometheus text exposition (`text/plain; version=0.0.4; charset=utf-8`).
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
      content:
        text/plain:
          schema:
            type: string
    OpenAPIOK:
      description: This document (`application/yaml`).
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
      content:
        application/yaml:
          schema:
            type: object
            description: An OpenAPI 3.0 document.
            required: [openapi, info, paths]
    HeadOK:
      description: The GET response's status and headers, with an empty body.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
    HeadNotReady:
      description: Not ready; empty body.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestId'
        Retry-After:
          $ref: '#/components/headers/RetryAfterUnavailable'
    HeadUnauthorized:
      description: Missing or wrong API key; empty body.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        WWW-Authenticate:
          $ref: '#/components/headers/WWWAuthenticate'

    # Native (TEI-shaped) errors.
    BadRequest:
      description: 'Malformed request: no body or no audio part (`empty`), bad JSON, bad base64, malformed multipart (`invalid_request`), undecodable or truncated audio (`invalid_audio`).'
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/BadRequestError'
    Unauthorized:
      description: The server has an API key and the request's bearer token is missing or wrong.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        WWW-Authenticate:
          $ref: '#/components/headers/WWWAuthenticate'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/UnauthorizedError'
    NotFound:
      description: Unknown route, or (for /classify) no probe head.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/NotFoundError'
    MethodNotAllowed:
      description: The path exists but not with this method.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Allow:
          $ref: '#/components/headers/Allow'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/MethodNotAllowedError'
    PayloadTooLarge:
      description: Body over `--payload-limit`, more inputs than `--max-client-batch-size`, or audio longer than `--max-audio-seconds`.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/PayloadTooLargeError'
    UnsupportedMediaType:
      description: Content-Type not accepted (or missing with a body), a data URI with a non-audio media type, an octet-stream body with no known audio signature, or an MP4/M4A or WebM container.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Accept-Post:
          $ref: '#/components/headers/AcceptPost'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/UnsupportedMediaTypeError'
    ValidationFailed:
      description: Well-formed but invalid values (bad option value, `model` not served, URL input, `modality` not audio, more than 8 channels, NaN/Inf samples).
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/ValidationError'
    Overloaded:
      description: '`--max-concurrent-requests` requests are already in flight.'
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Retry-After:
          $ref: '#/components/headers/RetryAfterOverloaded'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OverloadedError'
    BackendError:
      description: Inference or resampling failed (a server bug or a BLAS failure).
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/BackendFailure'
    Unavailable:
      description: Not ready (loading, draining or unhealthy).
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Retry-After:
          $ref: '#/components/headers/RetryAfterUnavailable'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/UnavailableError'

    # OpenAI-shaped errors (/v1/embeddings, /embeddings, /v1/models, /models).
    OpenAIBadRequest:
      description: Malformed request (see BadRequest).
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIInvalidRequest400'
    OpenAIUnauthorized:
      description: Missing or wrong API key.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        WWW-Authenticate:
          $ref: '#/components/headers/WWWAuthenticate'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIAuthenticationError'
    OpenAIMethodNotAllowed:
      description: The path exists but not with this method.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Allow:
          $ref: '#/components/headers/Allow'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIInvalidRequest405'
    OpenAIPayloadTooLarge:
      description: See PayloadTooLarge.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIInvalidRequest413'
    OpenAIUnsupportedMediaType:
      description: See UnsupportedMediaType.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Accept-Post:
          $ref: '#/components/headers/AcceptPost'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIInvalidRequest415'
    OpenAIValidationFailed:
      description: See ValidationFailed; `param` names the offending option when known.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIInvalidRequest422'
    OpenAIOverloaded:
      description: See Overloaded.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Retry-After:
          $ref: '#/components/headers/RetryAfterOverloaded'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIRateLimitError'
    OpenAIBackendError:
      description: See BackendError.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIServerError500'
    OpenAIUnavailable:
      description: See Unavailable.
      headers:
        x-request-id:
          $ref: '#/components/headers/XRequestIdEcho'
        Retry-After:
          $ref: '#/components/headers/RetryAfterUnavailable'
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OpenAIServerError503'

  schemas:
    # ---- options ----
    EncodingFormat:
      type: string
      enum: [float, base64]
      default: float
    Granularity:
      type: string
      enum: [clip, frames]
      default: clip
    FunctionToApply:
      type: string
      enum: [softmax, sigmoid, none]

    # ---- request bodies ----
    RawAudio:
      type: string
      format: binary
      description: The bytes of one audio file. An empty body is 400 `empty`.
    AudioString:
      type: string
      minLength: 1
      description: |
        Bare base64 (standard or URL-safe, padding optional, whitespace ignored) or
        `data:<audio media type or application/octet-stream or empty>;base64,<data>`.
        `http://` / `https://` URLs are refused with 422.
    AudioInputs:
      description: One audio string or a non-empty list of them (at most `--max-client-batch-size`, default 32, else 413).
      oneOf:
        - $ref: '#/components/schemas/AudioString'
        - type: array
          minItems: 1
          items:
            $ref: '#/components/schemas/AudioString'
    JSONNormalize:
      description: Boolean, or the text forms of the `normalize` query option (any case); null means default (false).
      anyOf:
        - type: boolean
          nullable: true
        - type: string
          pattern: '^([Tt][Rr][Uu][Ee]|1|[Yy][Ee][Ss]|[Ff][Aa][Ll][Ss][Ee]|0|[Nn][Oo]|)$'
    EmbedParameters:
      type: object
      description: Hugging Face style options; applied after the top-level keys, so they win.
      properties:
        normalize:
          $ref: '#/components/schemas/JSONNormalize'
        encoding_format:
          type: string
          nullable: true
          enum: [float, base64, null]
        granularity:
          type: string
          nullable: true
          enum: [clip, frames, null]
        model:
          type: string
          nullable: true
        head:
          type: string
          nullable: true
        top_k:
          type: integer
          nullable: true
          minimum: 1
        function_to_apply:
          type: string
          nullable: true
          enum: [softmax, sigmoid, none, null]
    EmbedJSONRequest:
      type: object
      required: [inputs]
      description: Unknown keys are ignored; null option values mean the default.
      properties:
        inputs:
          $ref: '#/components/schemas/AudioInputs'
        input:
          allOf:
            - $ref: '#/components/schemas/AudioInputs'
          description: Accepted when `inputs` is absent.
        normalize:
          $ref: '#/components/schemas/JSONNormalize'
        encoding_format:
          type: string
          nullable: true
          enum: [float, base64, null]
        granularity:
          type: string
          nullable: true
          enum: [clip, frames, null]
        model:
          type: string
          nullable: true
          description: When given, must equal the served model id, else 422.
        modality:
          type: string
          nullable: true
          enum: [audio, null]
        parameters:
          $ref: '#/components/schemas/EmbedParameters'
    ClassifyJSONRequest:
      type: object
      required: [inputs]
      description: Unknown keys are ignored; null option values mean the default.
      properties:
        inputs:
          $ref: '#/components/schemas/AudioInputs'
        input:
          allOf:
            - $ref: '#/components/schemas/AudioInputs'
          description: Accepted when `inputs` is absent.
        head:
          type: string
          nullable: true
        top_k:
          type: integer
          nullable: true
          minimum: 1
        function_to_apply:
          type: string
          nullable: true
          enum: [softmax, sigmoid, none, null]
        normalize:
          $ref: '#/components/schemas/JSONNormalize'
        model:
          type: string
          nullable: true
        modality:
          type: string
          nullable: true
          enum: [audio, null]
        parameters:
          $ref: '#/components/schemas/EmbedParameters'
    OpenAIEmbeddingRequest:
      type: object
      required: [input]
      description: Unknown keys (for example `user`) are ignored; null option values mean the default.
      properties:
        input:
          $ref: '#/components/schemas/AudioInputs'
        inputs:
          allOf:
            - $ref: '#/components/schemas/AudioInputs'
          description: Accepted when `input` is absent.
        model:
          type: string
          nullable: true
          description: Optional; a different name is logged and the served model answers.
        encoding_format:
          type: string
          nullable: true
          enum: [float, base64, null]
        dimensions:
          type: integer
          nullable: true
          description: Must equal the model's embedding size (/info `embedding_dim`), else 422.
        modality:
          type: string
          nullable: true
          enum: [audio, null]
          description: When a string, must be `audio` (infinity's convention), else 422.
        normalize:
          $ref: '#/components/schemas/JSONNormalize'
        parameters:
          $ref: '#/components/schemas/EmbedParameters'
    EmbedForm:
      type: object
      required: [file]
      description: |
        Audio in a part named `file` (repeat the part for a batch); the other audio field names are
        aliases. Option fields are text. Unknown fields are ignored. No audio part at all is 400 `empty`.
      properties:
        file:
          type: string
          format: binary
        file[]:
          type: array
          items:
            type: string
            format: binary
        files:
          type: array
          items:
            type: string
            format: binary
        data:
          type: string
          format: binary
        audio:
          type: string
          format: binary
        normalize:
          type: boolean
        encoding_format:
          $ref: '#/components/schemas/EncodingFormat'
        granularity:
          $ref: '#/components/schemas/Granularity'
        model:
          type: string
    ClassifyForm:
      type: object
      required: [file]
      description: As EmbedForm, plus the classification options.
      properties:
        file:
          type: string
          format: binary
        file[]:
          type: array
          items:
            type: string
            format: binary
        files:
          type: array
          items:
            type: string
            format: binary
        data:
          type: string
          format: binary
        audio:
          type: string
          format: binary
        head:
          type: string
        top_k:
          type: integer
          minimum: 1
        function_to_apply:
          $ref: '#/components/schemas/FunctionToApply'
        normalize:
          type: boolean
        model:
          type: string
    OpenAIEmbeddingForm:
      type: object
      required: [file]
      description: As EmbedForm, with the OpenAI options.
      properties:
        file:
          type: string
          format: binary
        file[]:
          type: array
          items:
            type: string
            format: binary
        files:
          type: array
          items:
            type: string
            format: binary
        data:
          type: string
          format: binary
        audio:
          type: string
          format: binary
        model:
          type: string
        encoding_format:
          $ref: '#/components/schemas/EncodingFormat'
        dimensions:
          type: integer
        normalize:
          type: boolean

    # ---- responses ----
    Usage:
      type: object
      required: [audio_seconds, prompt_tokens, total_tokens]
      properties:
        audio_seconds:
          type: number
          minimum: 0
        prompt_tokens:
          type: integer
          minimum: 0
          description: Number of 160 ms M2D time steps encoded.
        total_tokens:
          type: integer
          minimum: 0
    EmbedResponse:
      type: object
      required: [object, model, dim, data, usage]
      properties:
        object:
          type: string
          enum: [list]
        model:
          type: string
          description: The served model id.
        dim:
          type: integer
          description: Embedding size E (3840 for M2D ViT-Base 80x608 weights).
        data:
          type: array
          items:
            $ref: '#/components/schemas/EmbeddingItem'
        usage:
          $ref: '#/components/schemas/Usage'
    EmbeddingItem:
      type: object
      required: [object, index, embedding, duration_seconds, input_sample_rate, input_channels]
      properties:
        object:
          type: string
          enum: [embedding]
        index:
          type: integer
          minimum: 0
        embedding:
          description: |
            clip + float: E numbers; clip + base64: one string (E little-endian float32);
            frames + float: T lists of E numbers; frames + base64: one string of T x E float32, row-major.
          anyOf:
            - type: array
              items:
                type: number
            - type: array
              items:
                type: array
                items:
                  type: number
            - type: string
              format: byte
        shape:
          type: array
          description: '`[T, E]`; only for `granularity=frames` with `encoding_format=base64`.'
          minItems: 2
          maxItems: 2
          items:
            type: integer
            minimum: 0
        timestamps_ms:
          type: array
          description: Time of each frame in ms (`i * duration_ms / T`); only for `granularity=frames`.
          items:
            type: number
        duration_seconds:
          type: number
          minimum: 0
        input_sample_rate:
          type: integer
        input_channels:
          type: integer
    OpenAIEmbeddingResponse:
      type: object
      required: [object, data, model, usage]
      properties:
        object:
          type: string
          enum: [list]
        data:
          type: array
          items:
            type: object
            required: [object, index, embedding]
            properties:
              object:
                type: string
                enum: [embedding]
              index:
                type: integer
                minimum: 0
              embedding:
                description: E numbers, or base64 of E little-endian float32 (`encoding_format=base64`).
                anyOf:
                  - type: array
                    items:
                      type: number
                  - type: string
                    format: byte
        model:
          type: string
          description: The served model id (whatever the request named).
        usage:
          type: object
          required: [prompt_tokens, total_tokens]
          properties:
            prompt_tokens:
              type: integer
              minimum: 0
            total_tokens:
              type: integer
              minimum: 0
    ClassLabel:
      type: object
      required: [label, score]
      properties:
        label:
          type: string
        score:
          type: number
    ClassifyResponse:
      description: One input gives a list of labels sorted by descending score; a batch gives one list per input.
      anyOf:
        - type: array
          items:
            $ref: '#/components/schemas/ClassLabel'
        - type: array
          items:
            type: array
            items:
              $ref: '#/components/schemas/ClassLabel'
    ModelList:
      type: object
      required: [object, data]
      properties:
        object:
          type: string
          enum: [list]
        data:
          type: array
          minItems: 1
          maxItems: 1
          items:
            $ref: '#/components/schemas/Model'
    Model:
      type: object
      required: [id, object, created, owned_by]
      properties:
        id:
          type: string
          description: The model id (the model directory's name until the model is loaded).
        object:
          type: string
          enum: [model]
        created:
          type: integer
          description: Unix time of the response.
        owned_by:
          type: string
          enum: [m2d-serve]
    Info:
      type: object
      required: [status, heads, max_concurrent_requests, max_client_batch_size, max_batch_chunks, max_batch_delay_ms,
                 payload_limit, max_audio_seconds, backend, version, sha, docker_label]
      properties:
        model_id:
          type: string
        model_sha:
          type: string
          description: sha256 of model.safetensors (hex), empty if unreadable.
        model_dtype:
          type: string
          enum: [float32]
        embedding_dim:
          type: integer
        sample_rate:
          type: integer
        chunk_seconds:
          type: number
        frame_hop_ms:
          type: number
        flat_features:
          type: boolean
        architecture:
          type: object
          required: [embed_dim, depth, num_heads, input_size, patch_size]
          properties:
            embed_dim:
              type: integer
            depth:
              type: integer
            num_heads:
              type: integer
            input_size:
              type: array
              minItems: 2
              maxItems: 2
              items:
                type: integer
            patch_size:
              type: array
              minItems: 2
              maxItems: 2
              items:
                type: integer
        norm_stats:
          type: array
          items:
            type: number
        provenance:
          type: object
          nullable: true
          additionalProperties: true
        status:
          type: string
          enum: [loading, ready, draining, unhealthy]
        heads:
          type: array
          description: Probe heads loaded from `<model>/heads/` (reloaded on SIGHUP).
          items:
            type: object
            required: [name, labels, multi_label, default_function, metric, reported_score, task]
            properties:
              name:
                type: string
              labels:
                type: array
                items:
                  type: string
              multi_label:
                type: boolean
              default_function:
                type: string
                enum: [softmax, sigmoid, none]
              metric:
                type: string
                description: accuracy (single-label) or mAP (multi-label).
              reported_score:
                type: number
                nullable: true
                description: The test metric `m2d-train probe` reported for this head.
              task:
                type: string
                nullable: true
        max_concurrent_requests:
          type: integer
        max_client_batch_size:
          type: integer
        max_batch_chunks:
          type: integer
        max_batch_delay_ms:
          type: number
        payload_limit:
          type: integer
        max_audio_seconds:
          type: number
        backend:
          type: object
          required: [engine, openblas_core, threads]
          properties:
            engine:
              type: string
              description: GEMM backend, version, kernel and precision, e.g. "onednn 2.6.3 brg:avx512_core fp32" or "openblas SkylakeX fp32" ("loading" before the model is ready).
            openblas_core:
              type: string
              description: openblas_get_corename()
            threads:
              type: integer
        version:
          type: string
        sha:
          type: string
          description: Build commit ($M2D_BUILD_SHA) or `unknown`.
        docker_label:
          type: string
          nullable: true
    HealthOK:
      type: object
      required: [status]
      properties:
        status:
          type: string
          enum: [ok]
    HealthUnavailable:
      type: object
      required: [status, error, error_type, code]
      properties:
        status:
          type: string
          enum: [loading, draining, unhealthy]
        error:
          type: string
        error_type:
          type: string
          enum: [unhealthy]
        code:
          type: integer
          enum: [503]

    # ---- errors ----
    NativeError:
      type: object
      required: [error, error_type, code]
      properties:
        error:
          type: string
          description: Human-readable message.
        error_type:
          type: string
          enum: [empty, invalid_request, invalid_audio, unauthorized, not_found, method_not_allowed,
                 payload_too_large, unsupported_media_type, validation, overloaded, unhealthy, backend]
        code:
          type: integer
          description: The HTTP status.
    BadRequestError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [empty, invalid_request, invalid_audio]
            code:
              enum: [400]
    UnauthorizedError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [unauthorized]
            code:
              enum: [401]
    NotFoundError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [not_found]
            code:
              enum: [404]
    MethodNotAllowedError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [method_not_allowed]
            code:
              enum: [405]
    PayloadTooLargeError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [payload_too_large]
            code:
              enum: [413]
    UnsupportedMediaTypeError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [unsupported_media_type]
            code:
              enum: [415]
    ValidationError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [validation]
            code:
              enum: [422]
    OverloadedError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [overloaded]
            code:
              enum: [429]
    BackendFailure:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [backend]
            code:
              enum: [500]
    UnavailableError:
      allOf:
        - $ref: '#/components/schemas/NativeError'
        - type: object
          properties:
            error_type:
              enum: [unhealthy]
            code:
              enum: [503]

    OpenAIError:
      type: object
      required: [error]
      properties:
        error:
          type: object
          required: [message, type, param, code]
          properties:
            message:
              type: string
            type:
              type: string
              enum: [invalid_request_error, authentication_error, rate_limit_error, server_error]
            param:
              type: string
              nullable: true
              description: The offending option for 422 validation errors when known, else null.
            code:
              type: integer
              description: The HTTP status.
    OpenAIInvalidRequest400:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [invalid_request_error]
                code:
                  enum: [400]
    OpenAIInvalidRequest405:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [invalid_request_error]
                code:
                  enum: [405]
    OpenAIInvalidRequest413:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [invalid_request_error]
                code:
                  enum: [413]
    OpenAIInvalidRequest415:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [invalid_request_error]
                code:
                  enum: [415]
    OpenAIInvalidRequest422:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [invalid_request_error]
                code:
                  enum: [422]
    OpenAIAuthenticationError:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [authentication_error]
                code:
                  enum: [401]
    OpenAIRateLimitError:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [rate_limit_error]
                code:
                  enum: [429]
    OpenAIServerError500:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [server_error]
                code:
                  enum: [500]
    OpenAIServerError503:
      allOf:
        - $ref: '#/components/schemas/OpenAIError'
        - type: object
          properties:
            error:
              type: object
              properties:
                type:
                  enum: [server_error]
                code:
                  enum: [503]
"""####
}
