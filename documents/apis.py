"""Document endpoints: thin views. The person is always `request.user`; another person's
document is a 404."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from agentsite.schema import problems
from documents import selectors, services
from documents.serializers import DocumentSerializer, DocumentUploadSerializer


class DocumentListApi(generics.ListAPIView):
    """GET: the person's documents, newest first (paginated). POST: upload one (multipart)."""

    serializer_class = DocumentSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        return selectors.documents_of(self.request.user.pk)

    @extend_schema(request=DocumentUploadSerializer, responses={201: DocumentSerializer})
    @problems(
        {
            400: "invalid fields; an empty, encrypted or malformed file; or the person already "
            "has DOCUMENTS_MAX_PER_PERSON documents",
            413: "the file is larger than DOCUMENTS_MAX_BYTES, or has more than "
            "DOCUMENTS_MAX_PAGES pages or DOCUMENTS_MAX_CHARS characters of text",
            415: "the body is not multipart/form-data, or the file is not a PDF, Markdown or "
            "UTF-8 plain text (by its content, not only its name)",
        }
    )
    def post(self, request):
        incoming = DocumentUploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        upload = incoming.validated_data["file"]
        document = services.upload_document(
            request.user,
            name=upload.name or "",
            data=upload.read(),
            title=incoming.validated_data.get("title", ""),
        )
        created = selectors.document_of(request.user.pk, document.pk)
        return Response(DocumentSerializer(created).data, status=status.HTTP_201_CREATED)


class DocumentDetailApi(APIView):
    @extend_schema(responses={200: DocumentSerializer})
    def get(self, request, document_id):
        return Response(
            DocumentSerializer(selectors.document_of(request.user.pk, document_id)).data
        )

    @extend_schema(description="Delete the document and its chunks.", responses={204: None})
    def delete(self, request, document_id):
        services.delete_document(selectors.document_of(request.user.pk, document_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
